import { createHmac } from 'node:crypto';
import { InvoiceRequestSchema, type InvoiceRequest } from '../../domain/invoice';
import { NonceSource, sign, signatureMatches, signaturePayload } from './auth';
import { classifyBitfinexError } from './client';
import { createInvoiceBody, invoiceDuration, invoiceStatusToProviderStatus, reconciliationRecord } from './mapping';
import { InvoiceSchema } from './schemas';
import type { ApplicationFailure } from '@temporalio/common';

function invoice(overrides: Record<string, unknown> = {}): InvoiceRequest {
  return InvoiceRequestSchema.parse({
    invoiceId: 'inv_b1',
    provider: 'bitfinex',
    direction: 'pay_in',
    amount: 12500,
    currency: 'USD',
    customer: {
      id: 'c1',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      country: 'AR',
      address: { street: 'Av. 1', city: 'BA', zip: 'C1043' },
    },
    paymentMethod: { type: 'crypto' },
    settlementTimeoutSeconds: 3600,
    ...overrides,
  });
}

const sample = {
  id: 'b6f1',
  t: 1700000000000,
  type: 'ECOMMERCE',
  duration: 900,
  amount: 125,
  currency: 'USD',
  orderId: 'inv_b1',
  payCurrencies: ['BTC'],
  webhook: null,
  redirectUrl: null,
  status: 'COMPLETED',
  customerInfo: null,
  invoices: [{ amount: 0.002, currency: 'BTC', payCurrency: 'BTC', poolCurrency: 'BTC', address: 'x' }],
  payment: null,
};

describe('bitfinex mapping', () => {
  it.each([
    [12500, 'USD', '125'],
    [12345, 'USD', '123.45'],
    [1, 'USD', '0.01'],
    [500, 'JPY', '500'],
    [1234, 'KWD', '1.234'],
  ] as const)('%d minor %s is sent as the JSON number %s', (amount, currency, wire) => {
    const body = createInvoiceBody(invoice({ amount, currency }));
    expect(typeof body.amount).toBe('number');
    expect(JSON.stringify(body)).toContain(`"amount":${wire},`);
  });

  it('builds the create body: orderId = invoiceId, clamped duration, default pay currencies, customer info', () => {
    const body = createInvoiceBody(invoice(), { webhookUrl: 'http://gw/webhooks/bitfinex' });
    expect(body).toMatchObject({
      currency: 'USD',
      orderId: 'inv_b1',
      duration: 3600,
      payCurrencies: ['BTC', 'ETH', 'UST-ETH'],
      webhook: 'http://gw/webhooks/bitfinex',
      customerInfo: { nationality: 'AR', residCountry: 'AR', residCity: 'BA', fullName: 'Ada Lovelace' },
    });
    expect(
      createInvoiceBody(invoice({ paymentMethod: { type: 'crypto', payCurrencies: ['ETH'] } })).payCurrencies,
    ).toEqual(['ETH']);
    expect(invoiceDuration(10)).toBe(300);
    expect(invoiceDuration(10 * 86400)).toBe(86400);
  });

  it('leaves customerInfo out without an address (POS invoice)', () => {
    const base = invoice();
    const customer = { ...base.customer, address: undefined };
    expect(createInvoiceBody({ ...base, customer }).customerInfo).toBeUndefined();
  });

  it('maps every invoice status', () => {
    expect(
      ['CREATED', 'PENDING', 'COMPLETED', 'EXPIRED'].map((s) => invoiceStatusToProviderStatus(s as 'CREATED')),
    ).toEqual(['pending', 'paid', 'settled', 'expired']);
  });

  it('reads the invoice list for reconciliation: orderId is our reference, PENDING is not settled yet', () => {
    const parsed = InvoiceSchema.parse(sample);
    expect(reconciliationRecord(parsed)).toMatchObject({
      providerRef: sample.id,
      ourReference: sample.orderId,
      currency: parsed.currency,
      createdAt: new Date(parsed.t).toISOString(),
    });
    const statuses = ['CREATED', 'PENDING', 'COMPLETED', 'EXPIRED'] as const;
    expect(statuses.map((status) => reconciliationRecord({ ...parsed, status }).status)).toEqual([
      'pending',
      'pending',
      'settled',
      'expired',
    ]);
    expect(reconciliationRecord({ ...parsed, amount: 125, currency: 'USD' }).amount).toBe(12500);
  });

  it('parses an invoice with its amount as a number', () => {
    const parsed = InvoiceSchema.parse(sample);
    expect(typeof parsed.amount).toBe('number');
    expect(parsed).toMatchObject({ id: sample.id, orderId: sample.orderId, status: sample.status });
  });
});

describe('bitfinex auth', () => {
  it('signs /api/v2/<path> + nonce + body with HMAC-SHA384 hex', () => {
    const expected = createHmac('sha384', 'secret')
      .update('/api/v2/auth/r/ext/pay/invoices1700000000000000{"id":"x"}')
      .digest('hex');
    expect(signaturePayload('auth/r/ext/pay/invoices', '1700000000000000', '{"id":"x"}')).toBe(
      '/api/v2/auth/r/ext/pay/invoices1700000000000000{"id":"x"}',
    );
    expect(sign('secret', 'auth/r/ext/pay/invoices', '1700000000000000', '{"id":"x"}')).toBe(expected);
    expect(signatureMatches(expected, expected)).toBe(true);
    expect(signatureMatches(expected, expected.replace(/^./, expected[0] === 'a' ? 'b' : 'a'))).toBe(false);
    expect(signatureMatches(expected, 'not-hex')).toBe(false);
  });

  it('nonces increase strictly, even with a frozen or backward clock', () => {
    let now = 1_700_000_000_000;
    const nonces = new NonceSource(() => now);
    const first = Number(nonces.next());
    const second = Number(nonces.next());
    now -= 5_000;
    const third = Number(nonces.next());
    expect(first).toBe(1_700_000_000_000_000);
    expect(second).toBeGreaterThan(first);
    expect(third).toBeGreaterThan(second);
  });
});

describe('bitfinex error classification', () => {
  const response = (status: number, text: string) => ({ status, text, headers: new Headers() });
  const classify = (status: number, text: string) =>
    classifyBitfinexError(response(status, text), 'test') as ApplicationFailure;

  it('ERR_RATE_LIMIT is retryable whatever the status', () => {
    for (const status of [429, 200, 500]) {
      const failure = classify(status, '{"error":"ERR_RATE_LIMIT"}');
      expect(failure.type).toBe('ProviderRateLimited');
      expect(failure.nonRetryable).toBe(false);
    }
    expect(classify(500, '["error",11010,"ERR_RATE_LIMIT"]').type).toBe('ProviderRateLimited');
  });

  it('nonce errors are retryable, key errors and parameter errors final', () => {
    expect(classify(500, '["error",10114,"nonce: small"]')).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
    expect(classify(500, '["error",10100,"apikey: digest invalid"]')).toMatchObject({
      type: 'ProviderAuthFailed',
      nonRetryable: true,
    });
    expect(classify(500, '["error",10020,"amount: invalid"]')).toMatchObject({
      type: 'ProviderRejected',
      nonRetryable: true,
    });
    expect(classify(503, '{"error":"sandbox injected fault"}')).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
    expect(classify(502, '<html>bad gateway</html>')).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
  });
});
