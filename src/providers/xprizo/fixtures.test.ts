import { ApplicationFailure } from '@temporalio/common';
import { InvoiceRequestSchema, type InvoiceRequestInput } from '../../domain/invoice';
import { createLogger } from '../../logger';
import accepted from './fixtures/approval-accepted.json';
import rejected from './fixtures/approval-rejected.json';
import callback from './fixtures/payment-callback.json';
import { XPRIZO_HELD_APPROVAL_CAP_SECONDS } from './constants';
import { capHeldApprovalDeadline } from './mapping';
import { registerXprizoWebhooks, xprizoWebhookUrlAt } from './registration';
import { ApprovalWebhookSchema, PaymentCallbackSchema, type StatusByReferenceResponse } from './schemas';
import { verifyXprizoApprovalWebhook, verifyXprizoPaymentCallback, type StatusSource } from './webhook';

/** An API that answers one status for every reference, and remembers which references it was asked about. */
function apiSays(answer: StatusByReferenceResponse): StatusSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    statusByReference: (reference: string) => {
      asked.push(reference);
      return Promise.resolve(answer);
    },
  };
}

/** What the API says of the seed's Accepted transaction (id 1341, 100.00 USD) once it has gone through. */
const ACTIVE_1341 = { status: 'Active', key: '1341', transactionId: '1341', amount: 100, currencyCode: 'USD' } as const;

/** A lookup that knows one stored transaction id, standing in for the gateway's search of ProviderReferences. */
const storedIds =
  (ids: Record<string, string>) =>
  (transactionId: string): Promise<string | undefined> =>
    Promise.resolve(ids[transactionId]);

describe('seed 002 samples through the parsers', () => {
  it('parses the Accepted sample, reference null and all', () => {
    const parsed = ApprovalWebhookSchema.parse(accepted);
    expect(parsed).toMatchObject({ statusType: 2, status: 'Accepted', actionedById: 1, affectedContactIds: [] });
    expect(parsed.transaction).toMatchObject({ id: 1341, type: 'UUR', reference: null, amount: 100 });
  });

  it('parses the Rejected sample whose transaction fields are all null', () => {
    const parsed = ApprovalWebhookSchema.parse(rejected);
    expect(parsed.statusType).toBe(3);
    expect(Object.values(parsed.transaction ?? {}).every((value) => value === null)).toBe(true);
  });

  it('parses the payment callback sample', () => {
    expect(PaymentCallbackSchema.parse(callback)).toEqual({
      id: 1341,
      currencyCode: 'USD',
      amount: 100,
      reference: 'inv_seed_002',
    });
  });
});

describe('seed 002 samples through the webhook handlers', () => {
  it('Accepted with reference null: found through the transaction id we stored, then confirmed by the API', async () => {
    const api = apiSays(ACTIVE_1341);
    const verified = await verifyXprizoApprovalWebhook(accepted, api, {
      referenceForTransactionId: storedIds({ '1341': 'acme_inv_7' }),
    });
    expect(verified).toEqual({
      ok: true,
      invoiceId: 'acme_inv_7',
      event: {
        eventId: 'xprizo:acme_inv_7:2',
        provider: 'xprizo',
        status: 'settled',
        ref: { key: 'xprizoReference', value: 'acme_inv_7' },
        money: { amount: 10000, currency: 'USD' },
        detail: 'xprizo approval webhook: Accepted',
      },
    });
    // The API was asked about the invoice the id led to, not about anything the body named.
    expect(api.asked).toEqual(['acme_inv_7']);
  });

  it('Accepted with reference null and no lookup, or an id nobody stored: unmatchable, the API never asked', async () => {
    const api = apiSays(ACTIVE_1341);
    expect(await verifyXprizoApprovalWebhook(accepted, api)).toEqual({ ok: false, reason: 'unmatchable' });
    expect(
      await verifyXprizoApprovalWebhook(accepted, api, { referenceForTransactionId: storedIds({ '99': 'inv_other' }) }),
    ).toEqual({ ok: false, reason: 'unmatchable' });
    expect(api.asked).toEqual([]);
  });

  it('Accepted found by id is still refused when the API disagrees: another id, not yet Active, other money', async () => {
    const lookup = { referenceForTransactionId: storedIds({ '1341': 'acme_inv_7' }) };
    const cases: StatusByReferenceResponse[] = [
      { ...ACTIVE_1341, key: '2000', transactionId: '2000' },
      { ...ACTIVE_1341, status: 'Pending' },
      { ...ACTIVE_1341, amount: 99.99 },
      { ...ACTIVE_1341, currencyCode: 'EUR' },
    ];
    for (const answer of cases) {
      expect(await verifyXprizoApprovalWebhook(accepted, apiSays(answer), lookup)).toMatchObject({ ok: false });
    }
  });

  it('Rejected with every field null names nothing to look up: unmatchable, left to polling', async () => {
    const lookedUp: string[] = [];
    const verified = await verifyXprizoApprovalWebhook(rejected, apiSays({ status: 'Void' }), {
      referenceForTransactionId: (id) => {
        lookedUp.push(id);
        return Promise.resolve('acme_inv_7');
      },
    });
    expect(verified).toEqual({ ok: false, reason: 'unmatchable' });
    expect(lookedUp).toEqual([]);
  });

  it('the payment callback: believed while the API shows the hold, refused once it is gone', async () => {
    const held = { status: 'Hold', key: '1341', transactionId: '1341', amount: 100, currencyCode: 'USD' } as const;
    expect(await verifyXprizoPaymentCallback(callback, apiSays(held))).toMatchObject({
      ok: true,
      invoiceId: 'inv_seed_002',
      event: { status: 'approval_requested', money: { amount: 10000, currency: 'USD' } },
    });
    expect(await verifyXprizoPaymentCallback(callback, apiSays({ status: 'NotFound' }))).toMatchObject({ ok: false });
  });
});

describe('the approval deadline of a held pay-out', () => {
  const request = (overrides: Partial<InvoiceRequestInput>) =>
    InvoiceRequestSchema.parse({
      invoiceId: 'inv_cap',
      provider: 'xprizo',
      direction: 'pay_out',
      amount: 10000,
      currency: 'USD',
      customer: { id: 'c1', firstName: 'Ada', lastName: 'L', email: 'ada@example.com', country: 'AR' },
      paymentMethod: { type: 'wallet', walletAccountId: '42' },
      ...overrides,
    });

  it('is capped below the 24 h void, with a note saying so', () => {
    const { request: capped, notes } = capHeldApprovalDeadline(request({}));
    expect(XPRIZO_HELD_APPROVAL_CAP_SECONDS).toBeLessThan(24 * 3600);
    expect(capped.approval.timeoutSeconds).toBe(XPRIZO_HELD_APPROVAL_CAP_SECONDS);
    expect(notes).toEqual([
      'approval deadline capped at 22 h (79200 s, asked 86400 s): Xprizo voids a held pay-out 24 h after it is sent',
    ]);
  });

  it('leaves a shorter deadline, and every pay-in, as asked', () => {
    const short = request({ approval: { required: true, approvers: [], timeoutSeconds: 3600 } });
    expect(capHeldApprovalDeadline(short)).toEqual({ request: short, notes: [] });
    const payIn = request({
      direction: 'pay_in',
      approval: { required: true, approvers: [], timeoutSeconds: 7 * 86400 },
    });
    expect(capHeldApprovalDeadline(payIn)).toEqual({ request: payIn, notes: [] });
  });
});

describe('webhook registration at worker start', () => {
  const TOKEN = 't'.repeat(40);

  function capture() {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
    return { logger, lines };
  }

  /** A client whose named operations fail (`fail`), the first `failures` times only when that is given. */
  function recordingClient(fail: readonly string[] = [], failures = Infinity, refusal = false) {
    const calls: [string, string][] = [];
    const call = (name: string) => (url: string) => {
      calls.push([name, url]);
      const failing = fail.includes(name) && calls.filter(([n]) => n === name).length <= failures;
      if (!failing) return Promise.resolve();
      return Promise.reject(
        refusal
          ? ApplicationFailure.nonRetryable(`${name}: Invalid url`, 'ProviderRejected')
          : ApplicationFailure.retryable(`${name} unavailable (503)`, 'ProviderUnavailable'),
      );
    };
    return { calls, setApprovalWebhook: call('approval'), setPaymentWebhook: call('payment') };
  }

  it('registers both URLs under the gateway, token included, and never logs the token', async () => {
    const { logger, lines } = capture();
    const client = recordingClient();
    const result = await registerXprizoWebhooks(
      client,
      { gatewayUrl: 'https://pay.example.com/', token: TOKEN, form: 'query' },
      logger,
    );
    expect(result).toEqual({ outcome: 'registered', webhooks: ['approval', 'payment'] });
    expect(client.calls).toEqual([
      ['approval', `https://pay.example.com/webhooks/xprizo/${TOKEN}/approval`],
      ['payment', `https://pay.example.com/webhooks/xprizo/${TOKEN}/payment`],
    ]);
    expect(xprizoWebhookUrlAt('https://pay.example.com', TOKEN, 'payment')).toBe(client.calls[1]?.[1]);
    expect(lines.join('')).toContain('xprizo webhooks registered');
    expect(lines.join('')).not.toContain(TOKEN);
  });

  it('skips with a warning when there is no public gateway URL or no token, calling nothing', async () => {
    const { logger, lines } = capture();
    const client = recordingClient();
    const noUrl = await registerXprizoWebhooks(client, { token: TOKEN, form: 'query' }, logger);
    expect(noUrl.outcome === 'skipped' && noUrl.reason).toMatch(/GATEWAY_PUBLIC_URL/);
    const noToken = await registerXprizoWebhooks(
      client,
      { gatewayUrl: 'https://pay.example.com', form: 'query' },
      logger,
    );
    expect(noToken.outcome === 'skipped' && noToken.reason).toMatch(/XPRIZO_WEBHOOK_TOKEN/);
    expect(client.calls).toEqual([]);
    const levels = lines.map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels).toEqual([40, 40]);
  });

  it('a refused registration is logged, does not throw, and the other webhook is still registered', async () => {
    const { logger, lines } = capture();
    const client = recordingClient(['approval'], Infinity, true);
    const result = await registerXprizoWebhooks(
      client,
      { gatewayUrl: 'https://pay.example.com', token: TOKEN, form: 'path' },
      logger,
    );
    expect(result).toEqual({ outcome: 'failed', webhooks: ['approval', 'payment'], failed: ['approval'] });
    expect(client.calls.map(([name]) => name)).toEqual(['approval', 'payment']);
    expect(lines.join('')).toContain('xprizo webhook not registered');
    expect(lines.join('')).not.toContain(TOKEN);
  });

  it('retries a webhook Xprizo could not take on a growing interval until it does, and only that one', async () => {
    const { logger, lines } = capture();
    const client = recordingClient(['payment'], 3);
    const delays: number[] = [];
    const result = await registerXprizoWebhooks(
      client,
      {
        gatewayUrl: 'https://pay.example.com',
        token: TOKEN,
        form: 'query',
        retryDelayMs: (attempt) => (delays.push(attempt), 5),
      },
      logger,
    );
    expect(result.outcome).toBe('failed');
    const later = result.outcome === 'failed' ? await result.retrying : undefined;
    expect(later).toEqual({ outcome: 'registered', webhooks: ['approval', 'payment'] });
    expect(client.calls.map(([name]) => name)).toEqual(['approval', 'payment', 'payment', 'payment', 'payment']);
    expect(delays).toEqual([1, 2, 3]);
    expect(lines.join('')).toContain('xprizo webhooks registered on retry');
    expect(lines.join('')).not.toContain(TOKEN);
  });

  it('does not retry a URL Xprizo refuses', async () => {
    const { logger } = capture();
    const client = recordingClient(['approval'], Infinity, true);
    const result = await registerXprizoWebhooks(
      client,
      { gatewayUrl: 'https://pay.example.com', token: TOKEN, form: 'query', retryDelayMs: () => 5 },
      logger,
    );
    expect(result).toEqual({ outcome: 'failed', webhooks: ['approval', 'payment'], failed: ['approval'] });
  });
});
