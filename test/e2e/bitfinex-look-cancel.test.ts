import { providerLookSignal } from '../../src/workflows/definitions';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest, uniqueId } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually } from '../support/wait';

describe('a Temporal cancellation while a Bitfinex invoice looks at its provider', () => {
  const { registry, fakes } = fakeRegistry();
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
  });
  afterAll(async () => env?.stop());

  it('ends the invoice CANCELLED by its own flow, its provider object undone, when the look waits for submit', async () => {
    // Bitfinex's webhook can overtake submit's answer: the look then waits for the invoice to know its object, and a
    // cancellation reaches it there.
    const request = invoiceRequest({ invoiceId: uniqueId('look_cancel'), provider: 'bitfinex' });
    fakes.bitfinex.script(request.invoiceId, 'submit', { delayMs: 3_000 });
    await env.invoices.startInvoice(request);
    const handle = env.invoices.handle(request.invoiceId);
    await eventually(
      () => fakes.bitfinex.calls.some((c) => c.step === 'submit' && c.invoiceId === request.invoiceId) || undefined,
    );
    await handle.signal(providerLookSignal, { provider: 'bitfinex', hint: 'settled' });
    await handle.cancel();
    const final = await env.invoices.waitForResult(request.invoiceId);

    expect(final.status).toBe('CANCELLED');
    expect(final.compensations.map((c) => c.outcome)).toEqual(['done']);
    expect(fakes.bitfinex.compensations.filter((c) => c.invoiceId === request.invoiceId)).toHaveLength(1);
    // Not cut off by the cancellation with its undo still to run: the workflow itself completed.
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });
});
