import { z } from 'zod';
import { driveSample, gatewayClient, sampleRequest, waitUntil } from '../../src/dev/samples';
import type { AlfredSandbox } from '../../src/providers/alfred/sandbox';
import type { BitfinexSandbox } from '../../src/providers/bitfinex/sandbox';
import { formatReconciliation, runReconcile } from '../../src/cli/reconcile';
import { ensureReconciliationSchedule, RECONCILIATION_SCHEDULE_ID } from '../../src/temporal/reconciliation-schedule';
import { TEST_KEYS } from '../support/access';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';

describe('reconciliation against the provider sandboxes, through the gateway', () => {
  let stack: TestStack;
  let alfred: AlfredSandbox;
  beforeAll(async () => {
    stack = await startTestStack();
    alfred = stack.sandboxes.get<AlfredSandbox>('alfred').sandbox;
  });
  afterAll(async () => stack?.stop());

  const call = (path: string, init: { method?: string; body?: unknown; key?: string; accept?: string } = {}) =>
    fetch(`${stack.gateway.url}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${init.key ?? TEST_KEYS.operator}`,
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.accept ? { accept: init.accept } : {}),
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });

  /** A reconciliation of one provider now, through the gateway, exactly as `payorch reconcile` runs it. */
  async function reconcile(since: string, provider: 'alfred' | 'bitfinex' = 'alfred') {
    const result = await runReconcile(
      { kind: 'reconcile', provider, since, timeoutSeconds: 60 },
      { gatewayUrl: stack.gateway.url, apiKey: TEST_KEYS.operator, pollMs: 200 },
    );
    process.stdout.write(`${formatReconciliation(result)}\n`);
    expect(result.reports).toHaveLength(1);
    const [report] = result.reports;
    if (!report) throw new Error('no report');
    return report;
  }

  /**
   * Waits until visibility, which reconciliation reads our side from, indexes each invoice in the state the gateway
   * answered: Temporal writes visibility a moment after the workflow, and the test must not race it.
   */
  async function indexed(...states: ({ reference?: string; status: string } | undefined)[]): Promise<void> {
    for (const state of states) {
      const query = `WorkflowId = 'invoice-${state?.reference ?? ''}' AND InvoiceStatus = '${state?.status ?? ''}'`;
      await eventually(async () => (await stack.env.temporal.workflow.count(query)).count === 1);
    }
  }

  let reportId = '';

  it('reports one drift of each class exactly once, and nothing else', async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const api = stack.api;
    const completed = await Promise.all(
      ['reversed', 'amount', 'forgotten', 'agreeing'].map((name) =>
        driveSample(api, { invoiceId: uniqueId(`rc_${name}`), provider: 'alfred', direction: 'pay_in' }),
      ),
    );
    // Its settlement deadline passes with nothing paid: EXPIRED, and then alfred settles it without a word.
    const lateId = uniqueId('rc_settled');
    await gatewayClient(api).create({
      ...sampleRequest({ invoiceId: lateId, provider: 'alfred', direction: 'pay_in' }),
      settlementTimeoutSeconds: 3,
    });
    const late = await waitUntil(api, lateId, (s) => s.status === 'EXPIRED');
    for (const state of completed) expect(state.status).toBe('COMPLETED');
    const [reversed, amount, forgotten, agreeing] = completed;
    const alfredId = (state: typeof late | undefined) => state?.providerRefs.alfredInvoiceId ?? '';

    alfred.settleSilently(alfredId(late));
    alfred.reverse(alfredId(reversed));
    alfred.changeAmount(alfredId(amount), 130);
    alfred.forget(alfredId(forgotten));
    // Under a reference of ours that no invoice holds: it is looked up everywhere before it is called an orphan.
    const orphan = alfred.createOrphan({ amount: 50, currency: 'USD', reference: uniqueId('test_rc_never') });

    await indexed(...completed, late);
    const report = await reconcile(since);
    reportId = report.id;

    expect(report.summary).toMatchObject({
      provider: 'alfred',
      coverage: 'list',
      invoices: 5,
      records: 5,
      matched: 4,
      differences: 5,
      nudged: 0,
      byClass: {
        settled_not_completed: 1,
        completed_not_settled: 1,
        amount_mismatch: 1,
        orphan: 1,
        missing_at_provider: 1,
      },
    });
    const found = report.differences.map((d) => [d.class, d.reference ?? d.providerRef]).sort();
    expect(found).toEqual(
      [
        ['settled_not_completed', late.reference],
        ['completed_not_settled', reversed?.reference],
        ['amount_mismatch', amount?.reference],
        ['missing_at_provider', forgotten?.reference],
        ['orphan', orphan.reference],
      ].sort(),
    );
    expect(report.differences.find((d) => d.class === 'amount_mismatch')).toMatchObject({
      ours: { amount: 12500, currency: 'USD' },
      theirs: { amount: 13000, currency: 'USD' },
    });
    // Both sides were staged in the store, never in the workflow's history, and are gone once the report is.
    const staged = await stack.store.query<{ n: string }>(
      'SELECT count(*) AS n FROM reconciliation_items WHERE report_id = $1',
      [report.id],
    );
    expect(Number(staged[0]?.n)).toBe(0);
    // The invoice both sides agree on is in no row.
    expect(JSON.stringify(report.differences)).not.toContain(agreeing?.reference ?? 'none');
  });

  it('serves the report as CSV, lists it newest first, and refuses what it must', async () => {
    expect(reportId).not.toBe('');
    const csv = await call(`/v1/reconciliations/${reportId}`, { accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe(
      'class,reference,providerRef,invoiceStatus,providerStatus,ourAmount,ourCurrency,providerAmount,providerCurrency,nudged',
    );
    expect(lines).toHaveLength(6);
    const byQuery = await call(`/v1/reconciliations/${reportId}?format=csv`);
    expect(byQuery.headers.get('content-type')).toMatch(/^text\/csv/);

    const list = await call('/v1/reconciliations?provider=alfred');
    expect(list.status).toBe(200);
    const listed = z.object({ reports: z.array(z.object({ id: z.string() })) }).parse(await list.json());
    expect(listed.reports[0]?.id).toBe(reportId);

    const other = await call('/v1/reconciliations/reconciliation-no-such-run-alfred');
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ type: 'ReconciliationNotFound' });

    // While alfred's report is on its way the report answers 202; a run that ends without one, 502.
    const held = stack.sandboxes.get('alfred').faults.hold('GET', /\/third-party-service\/invoice$/);
    const started = await call('/v1/reconciliations', {
      method: 'POST',
      body: { provider: 'alfred', since: new Date().toISOString() },
    });
    expect(started.status).toBe(202);
    const pending = z.object({ reports: z.array(z.object({ id: z.string() })) }).parse(await started.json())
      .reports[0]?.id;
    await held.reached;
    expect((await call(`/v1/reconciliations/${pending ?? ''}`)).status).toBe(202);
    await stack.env.temporal.workflow.getHandle(pending ?? '').terminate('the test gives up on it');
    held.release();
    const failed = await call(`/v1/reconciliations/${pending ?? ''}`);
    expect(failed.status).toBe(502);
    expect(await failed.json()).toMatchObject({ type: 'ReconciliationFailed' });

    // The service's key may create invoices but neither read nor run reconciliations.
    const read = await call(`/v1/reconciliations/${reportId}`, { key: TEST_KEYS.service });
    expect(read.status).toBe(403);
    const run = await call('/v1/reconciliations', {
      method: 'POST',
      key: TEST_KEYS.service,
      body: { provider: 'alfred', since: new Date().toISOString() },
    });
    expect(run.status).toBe(403);
  });

  it('reconciles every enabled provider at once; PayOne and Xprizo, looked up by reference, say orphans are out of reach', async () => {
    const since = new Date().toISOString();
    const states = await Promise.all(
      (['alfred', 'payone', 'xprizo', 'bitfinex'] as const).map((provider) =>
        driveSample(stack.api, { invoiceId: uniqueId(`rc_all_${provider}`), provider, direction: 'pay_in' }),
      ),
    );
    for (const state of states) expect(state.status).toBe('COMPLETED');
    await indexed(...states);
    const result = await runReconcile(
      { kind: 'reconcile', since, timeoutSeconds: 60 },
      { gatewayUrl: stack.gateway.url, apiKey: TEST_KEYS.operator, pollMs: 200 },
    );
    process.stdout.write(`${formatReconciliation(result)}\n`);
    const coverage = Object.fromEntries(result.reports.map((r) => [r.summary.provider, r.summary.coverage]));
    expect(coverage).toEqual({ alfred: 'list', payone: 'per-reference', xprizo: 'per-reference', bitfinex: 'list' });
    for (const report of result.reports) {
      // Each provider's one invoice found at the provider, and agreeing.
      expect(report.summary).toMatchObject({ invoices: 1, records: 1, matched: 1, differences: 0 });
      if (report.summary.coverage === 'per-reference') expect(report.summary.coverageNote).toMatch(/orphan/);
    }
    // Bitfinex's report page ran on its rate-limited queue, like every other request to Bitfinex.
    const bitfinex = result.reports.find((r) => r.summary.provider === 'bitfinex');
    const history = await stack.env.temporal.workflow.getHandle(bitfinex?.id ?? '').fetchHistory();
    const queues = (history.events ?? []).flatMap((e) => {
      const scheduled = e.activityTaskScheduledEventAttributes;
      return scheduled?.activityType?.name === 'reconciliationRecords' ? [scheduled.taskQueue?.name] : [];
    });
    expect(queues).toEqual(['invoices-bitfinex']);
  });

  it('finds the drift of Bitfinex, whose report pages are read through its rate-limited queue', async () => {
    const bitfinex = stack.sandboxes.get<BitfinexSandbox>('bitfinex').sandbox;
    const since = new Date().toISOString();
    const api = stack.api;
    const [amount, forgotten] = await Promise.all(
      ['amount', 'forgotten'].map((name) =>
        driveSample(api, { invoiceId: uniqueId(`rc_bfx_${name}`), provider: 'bitfinex', direction: 'pay_in' }),
      ),
    );
    const lateId = uniqueId('rc_bfx_settled');
    await gatewayClient(api).create({
      ...sampleRequest({ invoiceId: lateId, provider: 'bitfinex', direction: 'pay_in' }),
      settlementTimeoutSeconds: 3,
    });
    const late = await waitUntil(api, lateId, (s) => s.status === 'EXPIRED');
    const bitfinexId = (state: typeof late | undefined) => state?.providerRefs.bitfinexInvoiceId ?? '';
    bitfinex.settleSilently(bitfinexId(late));
    bitfinex.changeAmount(bitfinexId(amount), 130);
    bitfinex.forget(bitfinexId(forgotten));
    const orphan = bitfinex.createOrphan({ amount: 50, currency: 'USD' });

    await indexed(amount, forgotten, late);
    const report = await reconcile(since, 'bitfinex');
    expect(report.differences.map((d) => [d.class, d.reference]).sort()).toEqual(
      [
        ['settled_not_completed', late.reference],
        ['amount_mismatch', amount?.reference],
        ['missing_at_provider', forgotten?.reference],
        ['orphan', orphan.orderId],
      ].sort(),
    );
  });

  it('keeps one schedule, created or brought up to date at every start, whose runs reconcile every provider', async () => {
    const { temporal, config, logger } = stack.env;
    const handle = temporal.schedule.getHandle(RECONCILIATION_SCHEDULE_ID);
    await handle.delete().catch(() => undefined);
    try {
      await ensureReconciliationSchedule(temporal, config, logger);
      await ensureReconciliationSchedule(temporal, config, logger);
      const hourOf = async () => (await handle.describe()).spec.calendars?.map((c) => c.hour);
      expect(await hourOf()).toEqual([[{ start: 3, end: 3, step: 1 }]]);
      const later = { ...config, reconciliation: { ...config.reconciliation, cron: '30 5 * * *' } };
      await ensureReconciliationSchedule(temporal, later, logger);
      expect(await hourOf()).toEqual([[{ start: 5, end: 5, step: 1 }]]);

      await handle.trigger();
      let runId: string | undefined;
      for (let i = 0; i < 100 && !runId; i++) {
        runId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
        if (!runId) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(runId).toMatch(/^reconciliation-scheduled-/);
      const run = z
        .object({
          since: z.string(),
          until: z.string(),
          reports: z.array(z.object({ provider: z.string(), id: z.string(), error: z.string().optional() })),
        })
        .parse(await temporal.workflow.getHandle(runId ?? '').result());
      // The scheduled run looks back RECONCILIATION_LOOKBACK_HOURS (48 by default) from when it ran.
      expect(Date.parse(run.until) - Date.parse(run.since)).toBe(config.reconciliation.lookbackHours * 3_600_000);
      expect(run.reports.map((r) => [r.provider, r.error])).toEqual(
        config.providers.enabled.map((provider) => [provider, undefined]),
      );
      for (const { id } of run.reports) expect((await call(`/v1/reconciliations/${id}`)).status).toBe(200);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });

  it('completes an invoice that missed its settlement webhook after it had stopped polling', async () => {
    // From now: the earlier test's drifted objects, the orphan among them, are not this window's.
    const since = new Date().toISOString();
    const api = stack.api;
    // alfred approves the pay-out and then sits on it past our settlement deadline: polling ends, NEEDS_REVIEW.
    alfred.holdPayouts(true);
    try {
      const invoiceId = uniqueId('rc_nudge');
      await gatewayClient(api).create({
        ...sampleRequest({ invoiceId, provider: 'alfred', direction: 'pay_out', approvalRequired: false }),
        settlementTimeoutSeconds: 4,
      });
      const review = await waitUntil(api, invoiceId, (s) => s.status === 'NEEDS_REVIEW');
      expect(review.review?.step).toBe('settlement');
      const alfredInvoiceId = review.providerRefs.alfredInvoiceId ?? '';

      // The money moves with no webhook; the invoice, polling no more, does not notice on its own.
      alfred.settleSilently(alfredInvoiceId);
      const polls = () => alfred.received('GET', new RegExp(`/invoice/${alfredInvoiceId}$`)).length;
      const before = polls();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(polls()).toBe(before);
      expect((await gatewayClient(api).get(invoiceId)).status).toBe('NEEDS_REVIEW');

      await indexed(review);
      const report = await reconcile(since);
      expect(report.differences).toEqual([
        expect.objectContaining({
          class: 'settled_not_completed',
          reference: review.reference,
          invoiceStatus: 'NEEDS_REVIEW',
          nudged: true,
        }),
      ]);
      const done = await waitUntil(api, invoiceId, (s) => s.status === 'COMPLETED');
      expect(done.transitions.at(-1)?.note).toMatch(/reconciliation/);
      expect(polls()).toBe(before + 1);
    } finally {
      alfred.holdPayouts(false);
    }
  });
});
