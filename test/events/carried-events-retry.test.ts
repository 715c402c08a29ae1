import { ApplicationFailure } from '@temporalio/common';
import { createInvoiceClient, type InvoiceClient } from '../../src/client';
import { mayFollowEarlierAttempt, type StepInput, type StepResult } from '../../src/providers/types';
import { providerEventSignal } from '../../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { interceptedStore, startTestStore, type TestStore } from '../support/store';
import { FAST_TIMING, startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually } from '../support/wait';

/**
 * A provider without idempotency of its own (Bitfinex, alfred's transactions) looks for what an earlier attempt created
 * only when the activity says there was one. A submit whose answer was lost, and whose retry then found the store away
 * (it carries the invoice's events and does not run before the store holds them), must still be told so on every later
 * call: otherwise it creates the object twice. The faults test met this on busy cores, with a store slower than 5 s.
 */
describe('a retried submit that finds the store away', () => {
  const { registry, fakes } = fakeRegistry();
  const outage = { on: false, refused: 0 };
  let test: TestStore;
  let env: TestEnv;
  let invoices: InvoiceClient;

  beforeAll(async () => {
    test = await startTestStore();
    // Away while the test says so (every event record is a transaction).
    const store = interceptedStore(test.store, (kind) => {
      if (kind !== 'transaction' || !outage.on) return;
      outage.refused++;
      throw new Error('connection refused (store away)');
    });
    env = await startTestEnv({ providers: registry, store });
    invoices = createInvoiceClient({ client: env.temporal, timing: FAST_TIMING, recordEvents: true });
  });
  afterAll(async () => {
    await env?.stop();
    await test?.close();
  });

  it('creates the provider object once: every call after the first is told an earlier one may have reached it', async () => {
    const request = invoiceRequest({ provider: 'bitfinex' });
    const calls: { attempt?: number; mayFollow: boolean; refusedBefore: number }[] = [];
    let created = 0;
    const submit = fakes.bitfinex.submit;
    fakes.bitfinex.submit = async (input: StepInput): Promise<StepResult> => {
      if (input.invoice.invoiceId !== request.invoiceId) return submit(input);
      const mayFollow = mayFollowEarlierAttempt(input);
      calls.push({ attempt: input.attempt, mayFollow, refusedBefore: outage.refused });
      if (calls.length === 1) {
        // Created, but the answer is lost on its way back; and by the retry the store is away.
        created++;
        outage.on = true;
        throw ApplicationFailure.retryable('socket hang up (answer lost)', 'ProviderUnavailable');
      }
      // A call told it is the first does not look, and creates again (as Bitfinex's adapter would).
      if (!mayFollow) created++;
      return submit(input);
    };
    try {
      await invoices.startInvoice(request);
      // The retry carried the invoice's events and the store refused them; then the store comes back.
      await eventually(async () => (outage.refused > 0 ? true : undefined), 60_000);
      outage.on = false;
      await eventually(async () => (calls.length > 1 ? true : undefined), 60_000);
      await invoices.handle(request.invoiceId).signal(providerEventSignal, fakeEvent(request, 'paid', 'settled'));
      expect((await invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');
    } finally {
      outage.on = false;
      fakes.bitfinex.submit = submit;
    }
    expect(calls[1]?.refusedBefore).toBeGreaterThan(0);
    expect(calls.map((c) => c.mayFollow)).toEqual([false, ...calls.slice(1).map(() => true)]);
    expect(created).toBe(1);
  }, 120_000);
});
