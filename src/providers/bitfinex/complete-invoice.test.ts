import { ForceCompletionSchema } from '../../domain/invoice';
import completeFixture from './fixtures/complete-invoice.json';
import { invoiceStatusToProviderStatus } from './mapping';
import { InvoiceSchema } from './schemas';

// Seed 003 documents the invoice Complete Invoice returns as a field list in upper case (ID, ORDER_ID,
// PAYMENT_FORCE_COMPLETED); the fixture is that list as the JSON keys are spelled (id, orderId,
// payment.forceCompleted), with every documented field present, the optional ones included.
describe('Bitfinex Complete Invoice response (seed 003)', () => {
  it('parses the seed-shaped invoice: COMPLETED, forced, linked to its deposit', () => {
    const invoice = InvoiceSchema.parse(completeFixture);
    expect(invoice).toMatchObject({
      id: 'a6b1c7e2-3f4d-4b8a-9c21-5e7f0d3a9b64',
      status: 'COMPLETED',
      orderId: 'acme_inv_20261201_0042',
      amount: 125.5,
      currency: 'USD',
      payment: { forceCompleted: true, depositId: 9001, currency: 'BTC', confirmations: 3 },
    });
    expect(invoice.payment?.ledgerId).toBeUndefined();
    expect(invoice.invoices?.map((entry) => entry.payCurrency)).toEqual(['BTC', 'ETH']);
    expect(invoiceStatusToProviderStatus(invoice.status)).toBe('settled');
  });

  it('refuses a copy whose status is not one the seed names', () => {
    expect(InvoiceSchema.safeParse({ ...completeFixture, status: 'FORCE_COMPLETED' }).success).toBe(false);
  });
});

describe('a completion by hand, as an operator asks for it', () => {
  const base = { by: 'ops@acme', payCcy: 'BTC' };

  it('names exactly one of depositId and ledgerId', () => {
    expect(ForceCompletionSchema.safeParse({ ...base, depositId: 9001 }).success).toBe(true);
    expect(ForceCompletionSchema.safeParse({ ...base, ledgerId: 77 }).success).toBe(true);
    const neither = ForceCompletionSchema.safeParse(base);
    expect(neither.success).toBe(false);
    expect(neither.error?.issues[0]?.path).toEqual(['depositId']);
    expect(ForceCompletionSchema.safeParse({ ...base, depositId: 1, ledgerId: 2 }).success).toBe(false);
  });

  it('takes Bitfinex pay currencies and positive whole ids only', () => {
    expect(ForceCompletionSchema.safeParse({ ...base, payCcy: 'UST-ETH', depositId: 1 }).success).toBe(true);
    expect(ForceCompletionSchema.safeParse({ ...base, payCcy: 'btc', depositId: 1 }).success).toBe(false);
    expect(ForceCompletionSchema.safeParse({ ...base, depositId: 0 }).success).toBe(false);
    expect(ForceCompletionSchema.safeParse({ ...base, depositId: 1.5 }).success).toBe(false);
  });
});
