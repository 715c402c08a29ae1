import { createInvoiceClient } from '../src/client';
import { providerEventSignal, providerLookSignal } from '../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from './support/fake-provider';
import { invoiceRequest } from './support/requests';
import { FAST_TIMING, startTestEnv, type TestEnv } from './support/temporal-env';
import { eventually, waitForStatus } from './support/wait';

/** Reconciliation's nudge, on the invoice workflow alone (fake providers): what a look may and may not do. */
describe("the invoice workflow under reconciliation's nudge", () => {
  const { registry, fakes } = fakeRegistry();
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
  });
  afterAll(async () => env?.stop());

  const fetches = (invoiceId: string) =>
    fakes.alfred.calls.filter((call) => call.step === 'fetchStatus' && call.invoiceId === invoiceId).length;

  it('makes an alfred invoice waiting for settlement look at once, long before its first poll', async () => {
    // The first poll an hour away: only the nudge can make it look now.
    const patient = createInvoiceClient({ client: env.temporal, timing: { ...FAST_TIMING, pollAfterSeconds: 3600 } });
    const request = invoiceRequest();
    await patient.startInvoice(request);
    await waitForStatus(patient, request.invoiceId, 'AWAITING_SETTLEMENT');
    fakes.alfred.statuses.set(request.invoiceId, 'settled');
    await patient
      .handle(request.invoiceId)
      .signal(providerLookSignal, { provider: 'alfred', hint: 'settled_not_completed', via: 'reconciliation' });
    const done = await patient.waitForResult(request.invoiceId);
    expect(done.status).toBe('COMPLETED');
    expect(fetches(request.invoiceId)).toBe(1);
  });

  it('ignores a webhook look for a provider that verifies its webhooks itself, and a nudge naming another provider', async () => {
    const patient = createInvoiceClient({ client: env.temporal, timing: { ...FAST_TIMING, pollAfterSeconds: 3600 } });
    const request = invoiceRequest();
    await patient.startInvoice(request);
    await waitForStatus(patient, request.invoiceId, 'AWAITING_SETTLEMENT');
    const handle = patient.handle(request.invoiceId);
    await handle.signal(providerLookSignal, { provider: 'alfred', hint: 'settled' });
    await handle.signal(providerLookSignal, { provider: 'bitfinex', hint: 'orphan', via: 'reconciliation' });
    await eventually(async () => (await patient.getInvoice(request.invoiceId)).eventsIgnored === 2);
    expect(fetches(request.invoiceId)).toBe(0);
    await handle.cancel();
  });

  it('leaves a NEEDS_REVIEW invoice in review while the provider shows its money unsettled', async () => {
    const request = invoiceRequest({ direction: 'pay_out', settlementTimeoutSeconds: 2 });
    await env.invoices.startInvoice(request);
    const handle = env.invoices.handle(request.invoiceId);
    await handle.signal(providerEventSignal, fakeEvent(request, 'ask', 'approval_requested'));
    await waitForStatus(env.invoices, request.invoiceId, 'NEEDS_REVIEW');
    const before = fetches(request.invoiceId);
    // Paid but not settled: the look is applied (providerStatus shows it), the review stays.
    fakes.alfred.statuses.set(request.invoiceId, 'paid');
    await handle.signal(providerLookSignal, { provider: 'alfred', hint: 'missing_at_provider', via: 'reconciliation' });
    const looked = await eventually(async () => {
      const state = await env.invoices.getInvoice(request.invoiceId);
      return state.providerStatus === 'paid' ? state : undefined;
    });
    expect(looked.status).toBe('NEEDS_REVIEW');
    expect(fetches(request.invoiceId)).toBe(before + 1);
    // Only an operator's word ends it then.
    const resolved = await env.invoices.resolveInvoice(request.invoiceId, {
      outcome: 'FAILED',
      reason: 'alfred never paid it out',
      by: 'ops@acme',
    });
    expect(resolved.status).toBe('FAILED');
  });
});
