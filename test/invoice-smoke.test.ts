import { fakeRegistry } from './support/fake-provider';
import { invoiceRequest } from './support/requests';
import { startTestEnv, type TestEnv } from './support/temporal-env';
import { providerEventSignal } from '../src/workflows/definitions';

describe('an invoice on the real dev server', () => {
  const { registry, fakes } = fakeRegistry();
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
  });
  afterAll(async () => env?.stop());

  it('runs a pay-in to COMPLETED when the provider reports settlement', async () => {
    const request = invoiceRequest();
    await env.invoices.startInvoice(request);
    await env.invoices.handle(request.invoiceId).signal(providerEventSignal, { eventId: 'evt-1', status: 'settled' });
    const result = await env.invoices.waitForResult(request.invoiceId);
    expect(result.status).toBe('COMPLETED');
    expect(result.transitions.map((t) => t.status)).toEqual([
      'CREATED',
      'KYC_PENDING',
      'KYC_APPROVED',
      'PAYMENT_METHOD_READY',
      'BANK_READY',
      'SUBMITTED',
      'APPROVED',
      'AWAITING_SETTLEMENT',
      'COMPLETED',
    ]);
    expect(fakes.alfred.completedCount(request.invoiceId, 'submit')).toBe(1);
  });
});
