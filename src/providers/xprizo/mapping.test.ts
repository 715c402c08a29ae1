import type { InvoiceRequest } from '../../domain/invoice';
import { InvoiceRequestSchema } from '../../domain/invoice';
import {
  accountId,
  approvalStatusToProviderStatus,
  fromXprizoAmount,
  isDuplicateReference,
  isInsufficientFunds,
  requestPaymentBody,
  sameAmount,
  sendPaymentBody,
  toXprizoAmount,
  transactionStatusToProviderStatus,
} from './mapping';
import { XPRIZO_REFS } from './adapter';
import {
  ApprovalWebhookSchema,
  PaymentCallbackSchema,
  StatusByReferenceResponseSchema,
  type StatusByReferenceResponse,
} from './schemas';
import {
  apiStatusesConfirming,
  contradiction,
  verifyXprizoApprovalWebhook,
  verifyXprizoPaymentCallback,
  type StatusSource,
} from './webhook';
import { errorMessage } from './client';

function invoice(overrides: Partial<InvoiceRequest> = {}): InvoiceRequest {
  return InvoiceRequestSchema.parse({
    invoiceId: 'inv_x1',
    provider: 'xprizo',
    direction: 'pay_in',
    amount: 12500,
    currency: 'USD',
    customer: { id: 'c1', firstName: 'Ada', lastName: 'L', email: 'ada@example.com', country: 'AR' },
    paymentMethod: { type: 'wallet', walletAccountId: '42' },
    ...overrides,
  });
}

describe('xprizo amounts', () => {
  it.each([
    [12500, 'USD', 125],
    [1, 'USD', 0.01],
    [500, 'JPY', 500],
    [1234, 'KWD', 1.234],
    [5, 'KWD', 0.005],
  ] as const)('%d minor %s is %d on the wire and back', (minor, currency, wire) => {
    expect(toXprizoAmount(minor, currency)).toBe(wire);
    expect(JSON.stringify({ amount: toXprizoAmount(minor, currency) })).toBe(`{"amount":${wire}}`);
    expect(fromXprizoAmount(wire, currency)).toBe(minor);
  });

  it('refuses more digits than the currency has', () => {
    expect(() => fromXprizoAmount(1.005, 'USD')).toThrow(RangeError);
    expect(() => fromXprizoAmount(1.5, 'JPY')).toThrow(RangeError);
  });

  it('compares amounts in minor units', () => {
    expect(sameAmount(100, 100.0, 'USD')).toBe(true);
    expect(sameAmount(100, 100.01, 'USD')).toBe(false);
    expect(sameAmount(1, 1, 'XXX')).toBe(false);
  });
});

describe('xprizo bodies', () => {
  it('pay-in requests from the customer wallet to the merchant, reference = invoiceId', () => {
    expect(requestPaymentBody(invoice(), '1000')).toEqual({
      fromAccountId: 42,
      toAccountId: 1000,
      reference: 'inv_x1',
      amount: 125,
    });
  });

  it('pay-out sends from the merchant to the customer wallet', () => {
    expect(sendPaymentBody(invoice({ direction: 'pay_out', currency: 'KWD', amount: 1500 }), '1000')).toEqual({
      fromAccountId: 1000,
      toAccountId: 42,
      reference: 'inv_x1',
      amount: 1.5,
    });
  });

  it('keeps non-numeric account ids as strings', () => {
    expect(accountId('wallet-7')).toBe('wallet-7');
    expect(accountId('007')).toBe(7);
  });
});

describe('xprizo statuses', () => {
  it('maps approval statusTypes', () => {
    expect([0, 1, 2, 3, 4].map((t) => approvalStatusToProviderStatus(t as 0 | 1 | 2 | 3 | 4))).toEqual([
      undefined,
      'pending',
      'settled',
      'rejected',
      'cancelled',
    ]);
  });

  it('maps StatusByReference with direction and expiry', () => {
    const payIn = { direction: 'pay_in' as const, pastExpiry: false };
    expect(transactionStatusToProviderStatus('Active', payIn)).toBe('settled');
    expect(transactionStatusToProviderStatus('Pending', payIn)).toBe('pending');
    expect(transactionStatusToProviderStatus('Pending', { ...payIn, direction: 'pay_out' })).toBe('approval_requested');
    expect(transactionStatusToProviderStatus('Hold', payIn)).toBe('approval_requested');
    expect(transactionStatusToProviderStatus('Void', payIn)).toBe('cancelled');
    expect(transactionStatusToProviderStatus('NotFound', payIn)).toBe('cancelled');
    expect(transactionStatusToProviderStatus('NotFound', { ...payIn, pastExpiry: true })).toBe('expired');
  });

  it('recognises Xprizo error texts', () => {
    expect(isDuplicateReference('A transaction with this reference already exists')).toBe(true);
    expect(isDuplicateReference('"A pending transaction with this reference already exists"')).toBe(true);
    expect(isDuplicateReference('Invalid amount')).toBe(false);
    expect(isInsufficientFunds('Insufficient funds')).toBe(true);
    expect(errorMessage('{"message":"Insufficient funds"}')).toBe('Insufficient funds');
    expect(errorMessage('"A transaction with this reference already exists"')).toContain('already exists');
    expect(errorMessage('plain words')).toBe('plain words');
  });
});

describe('xprizo schemas and webhook helpers', () => {
  it('reads the documented Accepted and Rejected samples', () => {
    const accepted = ApprovalWebhookSchema.parse({
      statusType: 2,
      status: 'Accepted',
      actionedById: 1,
      affectedContactIds: [],
      transaction: {
        id: 1341,
        createdById: 2,
        type: 'UUR',
        date: '2021-04-20T20:34:00.7606173+02:00',
        reference: null,
        currencyCode: 'USD',
        amount: 100.0,
      },
    });
    expect(accepted.transaction?.id).toBe(1341);
    const rejected = ApprovalWebhookSchema.parse({
      statusType: 3,
      status: 'Rejected',
      actionedById: 1,
      affectedContactIds: [],
      transaction: {
        id: null,
        createdById: null,
        type: null,
        date: null,
        reference: null,
        currencyCode: null,
        amount: null,
      },
    });
    expect(rejected.transaction?.reference).toBeNull();
    expect(ApprovalWebhookSchema.safeParse({ statusType: 9 }).success).toBe(false);
  });

  it('reads the payment callback and both StatusByReference shapes', () => {
    expect(PaymentCallbackSchema.parse({ id: 7, currencyCode: 'USD', amount: 5, reference: 'r' }).id).toBe(7);
    expect(StatusByReferenceResponseSchema.parse('Active')).toEqual({ status: 'Active' });
    expect(StatusByReferenceResponseSchema.parse({ status: 'Hold', key: 12, amount: 5 })).toMatchObject({
      status: 'Hold',
      key: '12',
    });
  });

  it('names what the API must say for each statusType; NotFound confirms no negative outcome', () => {
    expect(apiStatusesConfirming(2)).toEqual(['Active']);
    expect(apiStatusesConfirming(3)).toEqual(['Void']);
    expect(apiStatusesConfirming(4)).toEqual(['Void']);
  });

  it('finds contradictions between a webhook and the API', () => {
    const api = { status: 'Active' as const, key: '9', transactionId: '9', amount: 125, currencyCode: 'USD' };
    expect(contradiction({ amount: 125, currencyCode: 'USD', id: '9' }, api)).toBeUndefined();
    expect(contradiction({ amount: 126, currencyCode: 'USD', id: '9' }, api)).toMatch(/amount/);
    expect(contradiction({ amount: 125, currencyCode: 'EUR', id: '9' }, api)).toMatch(/currency/);
    expect(contradiction({ amount: 125, currencyCode: 'USD', id: '10' }, api)).toMatch(/transaction/);
    // Money the webhook states and the API does not is not believed.
    expect(contradiction({ amount: 125, currencyCode: 'USD', id: '9' }, { status: 'Active' })).toMatch(/not confirmed/);
    expect(contradiction({ amount: null, currencyCode: null, id: null }, { status: 'Void' })).toBeUndefined();
  });

  describe('verification against StatusByReference', () => {
    const apiSays = (answer: StatusByReferenceResponse): StatusSource => ({
      statusByReference: () => Promise.resolve(answer),
    });
    const rejected = (reference: string, extra: Record<string, unknown> = {}) => ({
      statusType: 3,
      status: 'Rejected',
      transaction: { id: 77, reference, currencyCode: 'USD', amount: 125, ...extra },
    });
    const voided = { status: 'Void' as const, key: '77', transactionId: '77', amount: 125, currencyCode: 'USD' };

    it('refuses a negative outcome the API only answers NotFound to', async () => {
      for (const statusType of [3, 4]) {
        const body = { ...rejected('inv_1'), statusType };
        await expect(verifyXprizoApprovalWebhook(body, apiSays({ status: 'NotFound' }))).resolves.toMatchObject({
          ok: false,
        });
      }
    });

    it('believes a negative outcome the API states, naming the reference and the money', async () => {
      await expect(verifyXprizoApprovalWebhook(rejected('inv_1'), apiSays(voided))).resolves.toEqual({
        ok: true,
        invoiceId: 'inv_1',
        event: {
          eventId: 'xprizo:inv_1:3',
          provider: 'xprizo',
          status: 'rejected',
          ref: { key: XPRIZO_REFS.reference, value: 'inv_1' },
          money: { amount: 12500, currency: 'USD' },
          detail: 'xprizo approval webhook: Rejected',
        },
      });
    });

    it('refuses a webhook whose money differs from the API', async () => {
      await expect(
        verifyXprizoApprovalWebhook(rejected('inv_1', { amount: 1.25 }), apiSays(voided)),
      ).resolves.toMatchObject({ ok: false, reason: expect.stringMatching(/amount/) as unknown });
      await expect(
        verifyXprizoApprovalWebhook(rejected('inv_1', { currencyCode: 'EUR' }), apiSays(voided)),
      ).resolves.toMatchObject({ ok: false, reason: expect.stringMatching(/currency/) as unknown });
    });

    it('refuses a payment callback for a transaction the API does not hold', async () => {
      const callback = { id: 77, currencyCode: 'USD', amount: 125, reference: 'inv_1' };
      const held = { ...voided, status: 'Hold' as const };
      await expect(verifyXprizoPaymentCallback(callback, apiSays({ status: 'NotFound' }))).resolves.toMatchObject({
        ok: false,
      });
      await expect(verifyXprizoPaymentCallback({ ...callback, amount: 126 }, apiSays(held))).resolves.toMatchObject({
        ok: false,
      });
      await expect(verifyXprizoPaymentCallback(callback, apiSays(held))).resolves.toMatchObject({
        ok: true,
        event: { provider: 'xprizo', ref: { key: XPRIZO_REFS.reference, value: 'inv_1' }, money: { amount: 12500 } },
      });
    });
  });
});
