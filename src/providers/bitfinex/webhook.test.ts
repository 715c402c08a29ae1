import { BITFINEX_REFS } from './adapter';
import type { BitfinexInvoice } from './schemas';
import { verifyBitfinexWebhook } from './webhook';

const invoice: BitfinexInvoice = {
  id: 'bfx-1',
  t: 1_700_000_000_000,
  amount: 125,
  currency: 'USD',
  orderId: 'inv_1',
  payCurrencies: ['BTC'],
  status: 'CREATED',
};

const apiHolds = (held: BitfinexInvoice | undefined) => ({ getInvoice: () => Promise.resolve(held) });

describe('verifyBitfinexWebhook', () => {
  it("names the Bitfinex invoice id and the invoice's money, in minor units", async () => {
    const expired = { ...invoice, status: 'EXPIRED' as const };
    await expect(verifyBitfinexWebhook(expired, apiHolds(expired))).resolves.toMatchObject({
      ok: true,
      invoiceId: 'inv_1',
      event: {
        eventId: 'bitfinex:bfx-1:EXPIRED',
        provider: 'bitfinex',
        status: 'expired',
        ref: { key: BITFINEX_REFS.invoiceId, value: 'bfx-1' },
        money: { amount: 12500, currency: 'USD' },
      },
    });
  });

  it('believes an expiry only when the API says so: Bitfinex signs nothing', async () => {
    await expect(verifyBitfinexWebhook({ ...invoice, status: 'EXPIRED' }, apiHolds(invoice))).resolves.toMatchObject({
      ok: false,
    });
    await expect(verifyBitfinexWebhook({ ...invoice, status: 'EXPIRED' }, apiHolds(undefined))).resolves.toMatchObject({
      ok: false,
    });
  });

  it('refuses other money or another order than the API holds', async () => {
    await expect(verifyBitfinexWebhook({ ...invoice, amount: 1.25 }, apiHolds(invoice))).resolves.toMatchObject({
      ok: false,
    });
    await expect(verifyBitfinexWebhook({ ...invoice, currency: 'EUR' }, apiHolds(invoice))).resolves.toMatchObject({
      ok: false,
    });
    await expect(verifyBitfinexWebhook({ ...invoice, orderId: 'inv_2' }, apiHolds(invoice))).resolves.toMatchObject({
      ok: false,
    });
  });
});
