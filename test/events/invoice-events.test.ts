import { createInvoiceClient, type InvoiceClient } from '../../src/client';
import { DECISION_EVENT_TYPES, transitionEventType, UNTENANTED, type InvoiceEvent } from '../../src/domain/events';
import { pageEvents } from '../../src/events/log';
import { providerEventSignal, type InvoiceState } from '../../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { startTestStore, type TestStore } from '../support/store';
import { FAST_TIMING, startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually, waitForStatus } from '../support/wait';

/**
 * The decisions and side effects an invoice records beside its transitions, read straight from the store the workers
 * record in: approvals toward two, a refused cancellation, completions by hand, a review's resolution, and a run
 * continued as new that numbers on where the first stopped.
 */
describe('the events an invoice records', () => {
  const { registry, fakes } = fakeRegistry();
  let test: TestStore;
  let env: TestEnv;
  let plain: InvoiceClient;
  let acme: InvoiceClient;
  let impatient: InvoiceClient;
  let shortLived: InvoiceClient;

  beforeAll(async () => {
    test = await startTestStore();
    env = await startTestEnv({ providers: registry, store: test.store });
    const client = env.temporal;
    plain = createInvoiceClient({ client, timing: FAST_TIMING, recordEvents: true });
    acme = createInvoiceClient({
      client,
      timing: FAST_TIMING,
      tenant: 'acme',
      policyFor: () => ({ payoutApproval: 'required', twoApproversFrom: { USD: 10_000 } }),
      recordEvents: true,
    });
    impatient = createInvoiceClient({
      client,
      timing: { ...FAST_TIMING, providerCallBudgetSeconds: 2 },
      recordEvents: true,
    });
    shortLived = createInvoiceClient({
      client,
      timing: { ...FAST_TIMING, pollAfterSeconds: 1, historyBudgetEvents: 30 },
      recordEvents: true,
    });
  });
  afterAll(async () => {
    await env?.stop();
    await test?.close();
  });

  const eventsOf = async (tenant: string, invoiceId: string) =>
    (await pageEvents(test.store, tenant, { invoiceId, limit: 500 })).events;

  /** The invoice's events once the one of its final transition is recorded (the workflow's last publication). */
  async function finalEvents(tenant: string, invoiceId: string, final: InvoiceState): Promise<InvoiceEvent[]> {
    const events = await eventually(async () => {
      const found = await eventsOf(tenant, invoiceId);
      return found.at(-1)?.type === transitionEventType(final.status) ? found : undefined;
    });
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    // Every transition is an event, in the order of the invoice's own list.
    const transitions = events.filter((event) => !isDecision(event.type)).map((event) => event.type);
    expect(transitions).toEqual(final.transitions.map((transition) => transitionEventType(transition.status)));
    return events;
  }

  const isDecision = (type: string) => (DECISION_EVENT_TYPES as readonly string[]).includes(type);
  const decisions = (events: InvoiceEvent[]) => events.map((e) => e.type).filter(isDecision);

  it('records each of two approvals as it comes, under the tenant and its own name for the invoice', async () => {
    const request = invoiceRequest({ direction: 'pay_out', amount: 25_000 });
    const key = `acme_${request.invoiceId}`;
    await acme.startInvoice(request, { createdBy: 'acme-service' });
    await acme
      .handle(request.invoiceId)
      .signal(providerEventSignal, fakeEvent({ ...request, invoiceId: key }, 'ask', 'approval_requested'));
    await waitForStatus(acme, request.invoiceId, 'AWAITING_APPROVAL');
    await acme.approveInvoice(request.invoiceId, { by: 'acme-alice' });
    // Recorded while the invoice still waits for the second approval, not only once it moves on.
    const first = await eventually(async () => {
      const events = await eventsOf('acme', request.invoiceId);
      return events.at(-1)?.type === 'invoice.approval_recorded' ? events.at(-1) : undefined;
    });
    expect(first?.data.invoice).toMatchObject({
      status: 'AWAITING_APPROVAL',
      invoiceId: request.invoiceId,
      reference: key,
      approvals: [{ by: 'acme-alice' }],
    });
    await acme.approveInvoice(request.invoiceId, { by: 'acme-bob' });
    await acme
      .handle(request.invoiceId)
      .signal(providerEventSignal, fakeEvent({ ...request, invoiceId: key }, 'paid', 'settled'));
    const result = await acme.waitForResult(request.invoiceId);
    expect(result.status).toBe('COMPLETED');
    const events = await finalEvents('acme', request.invoiceId, result);
    expect(decisions(events)).toEqual(['invoice.approval_recorded', 'invoice.approval_recorded']);
    const types = events.map((e) => e.type);
    expect(types.indexOf('invoice.awaiting_approval')).toBeLessThan(types.indexOf('invoice.approval_recorded'));
    expect(types.lastIndexOf('invoice.approval_recorded')).toBeLessThan(types.indexOf('invoice.approved'));
    expect(events.every((e) => e.tenant === 'acme' && e.invoiceId === request.invoiceId)).toBe(true);
  });

  it("answers an approval without waiting on the store: the approval's events travel with the next provider step", async () => {
    const request = invoiceRequest({
      direction: 'pay_out',
      approval: { required: true, approvers: ['ops@acme'], timeoutSeconds: 600 },
    });
    await plain.startInvoice(request);
    const handle = plain.handle(request.invoiceId);
    await handle.signal(providerEventSignal, fakeEvent(request, 'ask', 'approval_requested'));
    await waitForStatus(plain, request.invoiceId, 'AWAITING_APPROVAL');
    // The wait's own events are recorded first (an activity since replay-safe-1): an approval that came while that
    // ran would be taken up in the task after it, not in the one that accepted it.
    await eventually(async () =>
      (await eventsOf(UNTENANTED, request.invoiceId)).some((e) => e.type === 'invoice.awaiting_approval')
        ? true
        : undefined,
    );
    await plain.approveInvoice(request.invoiceId, { by: 'ops@acme' });
    await handle.signal(providerEventSignal, fakeEvent(request, 'paid', 'settled'));
    const result = await plain.waitForResult(request.invoiceId);
    expect(result.status).toBe('COMPLETED');
    const events = await finalEvents(UNTENANTED, request.invoiceId, result);
    expect(events.map((e) => e.type)).toContain('invoice.approved');

    // The workflow task that accepts the Update (and is answered when it ends) schedules the step at the provider and
    // records no local activity: the recorder is not on the approval's path.
    const history = (await handle.fetchHistory()).events ?? [];
    const accepted = history.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    const taskEnd = history.findIndex((e, i) => i > accepted && e.workflowTaskScheduledEventAttributes);
    const approvalTask = history.slice(accepted, taskEnd);
    const described = approvalTask.map((e) =>
      e.markerRecordedEventAttributes
        ? `marker ${e.markerRecordedEventAttributes.markerName ?? ''}`
        : (e.activityTaskScheduledEventAttributes?.activityType?.name ??
          Object.keys(e).find((k) => k.endsWith('Attributes'))),
    );
    if (accepted < 0 || described.some((d) => d?.startsWith('marker')) || !described.includes('approveAtProvider')) {
      throw new Error(`the approval's workflow task: ${JSON.stringify(described)}`);
    }
  });

  it('records a cancellation refused past the point of no return, for an invoice of no tenant', async () => {
    const request = invoiceRequest({
      direction: 'pay_out',
      approval: { required: true, approvers: ['ops@acme'], timeoutSeconds: 600 },
    });
    fakes.alfred.script(request.invoiceId, 'approveAtProvider', { delayMs: 1500 });
    await plain.startInvoice(request);
    const handle = plain.handle(request.invoiceId);
    await handle.signal(providerEventSignal, fakeEvent(request, 'ask', 'approval_requested'));
    await waitForStatus(plain, request.invoiceId, 'AWAITING_APPROVAL');
    await plain.approveInvoice(request.invoiceId, { by: 'ops@acme' });
    await handle.cancel();
    await handle.signal(providerEventSignal, fakeEvent(request, 'done', 'settled'));
    const result = await plain.waitForResult(request.invoiceId);
    expect(result.status).toBe('COMPLETED');
    const events = await finalEvents(UNTENANTED, request.invoiceId, result);
    expect(decisions(events)).toEqual(['invoice.cancel_refused']);
    expect(events.find((e) => e.type === 'invoice.cancel_refused')?.data.invoice.refusedRequests).toHaveLength(1);
  });

  it('records a completion by hand that failed, then one that completed', async () => {
    const request = invoiceRequest({ provider: 'bitfinex' });
    const key = `acme_${request.invoiceId}`;
    fakes.bitfinex.script(key, 'forceComplete', { refuse: { type: 'ProviderRejected', message: 'no such deposit' } });
    await acme.startInvoice(request, { createdBy: 'acme-service' });
    await waitForStatus(acme, request.invoiceId, 'AWAITING_SETTLEMENT');
    await expect(
      acme.forceCompleteInvoice(request.invoiceId, { payCcy: 'BTC', depositId: 9001, by: 'acme-alice' }),
    ).rejects.toThrow(/ForceCompleteFailed/);
    fakes.bitfinex.script(key, 'forceComplete', {});
    const result = await acme.forceCompleteInvoice(request.invoiceId, {
      payCcy: 'BTC',
      depositId: 9002,
      by: 'acme-alice',
    });
    expect(result.status).toBe('COMPLETED');
    const events = await finalEvents('acme', request.invoiceId, result);
    expect(decisions(events)).toEqual([
      'invoice.forced_completion_requested',
      'invoice.forced_completion_failed',
      'invoice.forced_completion_requested',
      'invoice.forced_completion_completed',
    ]);
    const failed = events.find((e) => e.type === 'invoice.forced_completion_failed');
    expect(failed?.data.invoice.forcedCompletion).toMatchObject({ depositId: 9001, outcome: 'failed' });
  });

  it("records an operator's resolution of a review, and each undo it leads to", async () => {
    const request = invoiceRequest({ provider: 'payone', currency: 'JOD', amount: 1250 });
    fakes.payone.statuses.set(request.invoiceId, 'authorized');
    fakes.payone.script(request.invoiceId, 'complete', { transientFailures: 1000 });
    await impatient.startInvoice(request);
    await waitForStatus(impatient, request.invoiceId, 'COMPLETING');
    fakes.payone.statusUnavailable.add(request.invoiceId);
    await waitForStatus(impatient, request.invoiceId, 'NEEDS_REVIEW');
    const resolved = await impatient.resolveInvoice(request.invoiceId, {
      outcome: 'CANCELLED',
      reason: 'voided in the PayOne back office',
      by: 'ops@acme',
    });
    expect(resolved.status).toBe('CANCELLED');
    const events = await finalEvents(UNTENANTED, request.invoiceId, resolved);
    const types = events.map((e) => e.type);
    expect(types.indexOf('invoice.needs_review')).toBeLessThan(types.indexOf('invoice.review_resolved'));
    const undos = resolved.compensations.map((c) => `invoice.compensation_${c.outcome}`);
    expect(decisions(events)).toEqual(['invoice.review_resolved', ...undos]);
    expect(types.at(-1)).toBe('invoice.cancelled');
  });

  it('numbers on across a continue-as-new: no event twice, none skipped', async () => {
    const request = invoiceRequest({ provider: 'bitfinex' });
    await shortLived.startInvoice(request);
    await waitForStatus(shortLived, request.invoiceId, 'AWAITING_SETTLEMENT');
    const handle = shortLived.handle(request.invoiceId);
    await eventually(async () => {
      const first = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
      return first?.continuedExecutionRunId ? true : undefined;
    }, 60_000);
    fakes.bitfinex.statuses.set(request.invoiceId, 'settled');
    const result = await shortLived.waitForResult(request.invoiceId);
    expect(result.status).toBe('COMPLETED');
    const events = await finalEvents(UNTENANTED, request.invoiceId, result);
    expect(decisions(events)).toEqual([]);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });
});
