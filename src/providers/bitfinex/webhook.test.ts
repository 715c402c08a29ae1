import { BITFINEX_REFS } from './adapter';
import type { BitfinexInvoice } from './schemas';
import { readBitfinexWebhook } from './webhook';

const invoice: BitfinexInvoice = {
  id: 'bfx-1',
  t: 1_700_000_000_000,
  amount: 125,
  currency: 'USD',
  orderId: 'inv_1',
  payCurrencies: ['BTC'],
  status: 'CREATED',
};

describe('readBitfinexWebhook', () => {
  it('names the invoice by its orderId and the Bitfinex invoice by its id; the status is only a claim', () => {
    expect(readBitfinexWebhook({ ...invoice, status: 'EXPIRED' })).toEqual({
      ok: true,
      invoiceId: 'inv_1',
      event: {
        eventId: 'bitfinex:bfx-1:EXPIRED',
        provider: 'bitfinex',
        status: 'expired',
        ref: { key: BITFINEX_REFS.invoiceId, value: 'bfx-1' },
        detail: 'bitfinex webhook claims EXPIRED',
      },
    });
  });

  it('carries no money: what the invoice acts on comes from its own fetch', () => {
    const read = readBitfinexWebhook({ ...invoice, status: 'COMPLETED' });
    expect(read.ok && 'money' in read.event).toBe(false);
  });

  it('refuses a body that is no Bitfinex invoice', () => {
    expect(readBitfinexWebhook({ ...invoice, status: 'PAID_MAYBE' })).toEqual({
      ok: false,
      reason: 'not a Bitfinex invoice',
    });
    expect(readBitfinexWebhook({ orderId: 'inv_1' })).toMatchObject({ ok: false });
    expect(readBitfinexWebhook('COMPLETED')).toMatchObject({ ok: false });
  });
});
