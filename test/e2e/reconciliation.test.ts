import { z } from 'zod';
import { driveSample, gatewayClient, sampleRequest, waitUntil } from '../../src/dev/samples';
import type { AlfredSandbox } from '../../src/providers/alfred/sandbox';
import { StoredReportSchema } from '../../src/store/reconciliations';
import { TEST_KEYS } from '../support/access';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';

const StartedSchema = z.object({
  id: z.string(),
  reports: z.array(z.object({ provider: z.string(), id: z.string() })),
});

describe('reconciliation against the alfred sandbox, through the gateway', () => {
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

  /** Starts a reconciliation of alfred and waits for its report, as `payorch reconcile` does. */
  async function reconcile(since: string) {
    const started = await call('/v1/reconciliations', { method: 'POST', body: { provider: 'alfred', since } });
    expect(started.status).toBe(202);
    const { reports } = StartedSchema.parse(await started.json());
    const id = reports[0]?.id ?? '';
    const deadline = Date.now() + 60_000;
    for (;;) {
      const response = await call(`/v1/reconciliations/${id}`);
      if (response.status === 200) return StoredReportSchema.parse(await response.json());
      expect(response.status).toBe(202);
      if (Date.now() > deadline) throw new Error(`report ${id} not ready`);
      await new Promise((resolve) => setTimeout(resolve, 200));
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
    const orphan = alfred.createOrphan({ amount: 50, currency: 'USD' });

    const report = await reconcile(since);
    reportId = report.id;
    process.stdout.write(`reconciliation ${report.id}: ${JSON.stringify(report.summary)}\n`);

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
        ['orphan', orphan.invoiceId],
      ].sort(),
    );
    expect(report.differences.find((d) => d.class === 'amount_mismatch')).toMatchObject({
      ours: { amount: 12500, currency: 'USD' },
      theirs: { amount: 13000, currency: 'USD' },
    });
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

      const report = await reconcile(since);
      process.stdout.write(`reconciliation ${report.id}: ${JSON.stringify(report.summary)}\n`);
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
