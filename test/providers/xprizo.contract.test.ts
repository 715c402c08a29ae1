import { DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN, loadConfig } from '../../src/config';
import { InvoiceRequestSchema, type InvoiceRequestInput } from '../../src/domain/invoice';
import { createLogger } from '../../src/logger';
import { startSandboxes, type SandboxServer } from '../../src/providers/sandbox/server';
import type { StepInput } from '../../src/providers/types';
import { createXprizoAdapter } from '../../src/providers/xprizo/adapter';
import { XprizoClient } from '../../src/providers/xprizo/client';
import { SANDBOX_CREDENTIALS, xprizoWebhookPath } from '../../src/providers/xprizo/constants';
import type { XprizoSandbox } from '../../src/providers/xprizo/sandbox';
import { verifyXprizoApprovalWebhook, verifyXprizoPaymentCallback } from '../../src/providers/xprizo/webhook';
import { WebhookReceiver } from '../support/webhook-receiver';
import { failureOf } from '../support/failures';

const logger = createLogger({ level: 'silent' });
const receiver = new WebhookReceiver();
let server: SandboxServer;
let sandbox: XprizoSandbox;
let client: XprizoClient;
let counter = 0;

function stepInput(overrides: Partial<InvoiceRequestInput> = {}, refs: Record<string, string> = {}): StepInput {
  const invoiceId = `xp_${Date.now().toString(36)}_${counter++}`;
  const invoice = InvoiceRequestSchema.parse({
    invoiceId,
    provider: 'xprizo',
    direction: 'pay_in',
    amount: 12500,
    currency: 'USD',
    customer: { id: 'c1', firstName: 'Ada', lastName: 'L', email: 'ada@example.com', country: 'AR' },
    paymentMethod: { type: 'wallet', walletAccountId: '4242' },
    ...overrides,
  });
  return { invoice, refs, idempotencyKey: `${invoiceId}:submit` };
}

// Until told other URLs, the sandbox calls the development token's: the URLs a stack without XPRIZO_WEBHOOK_TOKEN
// registers.
const APPROVAL = xprizoWebhookPath(DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN, 'approval');
const PAYMENT = xprizoWebhookPath(DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN, 'payment');

const hooksFor = (reference: string, path: string) =>
  receiver.received.filter(
    (hook) => hook.path === path && JSON.stringify(hook.body).includes(`"reference":"${reference}"`),
  );

beforeAll(async () => {
  await receiver.start();
  server = await startSandboxes({ port: 0, logger, webhookBaseUrl: receiver.url, timeScale: 0.0005 });
  sandbox = server.get<XprizoSandbox>('xprizo').sandbox;
  const port = new URL(server.url).port;
  // The client finds its sandbox from config alone: no base URL, no credentials configured.
  client = XprizoClient.fromConfig(loadConfig({ NODE_ENV: 'test', SANDBOX_PORT: port, PROVIDER_TIMEOUT_MS: '2000' }));
});

afterAll(async () => {
  // A request held by the timeout fault would otherwise keep the server open until its socket times out.
  server.app.server.closeAllConnections();
  await server.close();
  await receiver.stop();
});

afterEach(() => {
  server.get('xprizo').faults.set({ errorRate: 0, timeoutRate: 0, rateLimitBurst: 0 });
  receiver.answer = () => Promise.resolve(200);
});

describe('xprizo pay-in (RequestPayment)', () => {
  it('submits once, even when the activity is retried', async () => {
    const adapter = createXprizoAdapter(client);
    const input = stepInput();
    const first = await adapter.submit(input);
    const again = await adapter.submit(input);
    expect(first).toMatchObject({ providerStatus: 'pending', compensation: 'cancel_request' });
    expect(first.refs).toMatchObject({ xprizoReference: input.invoice.invoiceId });
    expect(first.refs?.xprizoTransactionKey).toBeDefined();
    expect(again.refs?.xprizoTransactionKey).toBe(first.refs?.xprizoTransactionKey);
    expect(again.note).toMatch(/already existed/);
    expect(server.get('xprizo').counter.get('transaction', input.invoice.invoiceId)).toBe(1);
    const created = await receiver.waitFor((hook) => hooksFor(input.invoice.invoiceId, APPROVAL).includes(hook));
    expect(created.body).toMatchObject({ statusType: 1, transaction: { id: 0 } });
  });

  it('accepted by the customer: webhook verified by fetch, status settled; a tampered copy is refused', async () => {
    const adapter = createXprizoAdapter(client);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const reference = input.invoice.invoiceId;

    // Before the customer acts, an "Accepted" claim is contradicted by the API (still Pending).
    const forged = {
      statusType: 2,
      status: 'Accepted',
      transaction: { id: Number(submitted.refs?.xprizoTransactionKey), reference, currencyCode: 'USD', amount: 125 },
    };
    expect(await verifyXprizoApprovalWebhook(forged, client)).toMatchObject({ ok: false });

    sandbox.acceptRequest(reference);
    const hook = await receiver.waitFor(
      (h) =>
        h.path === APPROVAL &&
        (h.body as { statusType: number }).statusType === 2 &&
        hooksFor(reference, h.path).includes(h),
    );
    const verified = await verifyXprizoApprovalWebhook(hook.body, client);
    expect(verified).toMatchObject({ ok: true, invoiceId: reference, event: { status: 'settled' } });
    const again = await verifyXprizoApprovalWebhook(hook.body, client);
    expect(again.ok && !again.ignore && again.event.eventId).toBe(
      verified.ok && !verified.ignore && verified.event.eventId,
    );

    const body = hook.body as { transaction: { amount: number } };
    const tampered = { ...body, transaction: { ...body.transaction, amount: 999 } };
    expect(await verifyXprizoApprovalWebhook(tampered, client)).toMatchObject({ ok: false });
    expect(await verifyXprizoApprovalWebhook({ statusType: 0, status: 'None' }, client)).toMatchObject({
      ok: true,
      ignore: true,
    });

    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'settled',
    });
    const compensation = await failureOf(
      adapter.compensate({ ...input, refs: submitted.refs ?? {}, action: 'cancel_request' }),
    );
    expect(compensation.nonRetryable).toBe(true);
  });

  it('rejected by the customer: the null-field webhook is unmatchable, the poll says cancelled', async () => {
    const adapter = createXprizoAdapter(client);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    sandbox.rejectRequest(input.invoice.invoiceId);
    const hook = await receiver.waitFor((h) => (h.body as { statusType?: number }).statusType === 3);
    expect(await verifyXprizoApprovalWebhook(hook.body, client)).toEqual({
      ok: false,
      reason: 'unmatchable',
    });
    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'cancelled',
    });
  });

  it('cancel_request compensation cancels it at Xprizo (and again is a no-op)', async () => {
    const adapter = createXprizoAdapter(client);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const refs = submitted.refs ?? {};
    await expect(adapter.compensate({ ...input, refs, action: 'cancel_request' })).resolves.toMatchObject({
      providerStatus: 'cancelled',
    });
    await expect(adapter.compensate({ ...input, refs, action: 'cancel_request' })).resolves.toMatchObject({
      providerStatus: 'cancelled',
    });
    expect(sandbox.transaction(input.invoice.invoiceId)?.state).toBe('Cancelled');
    const hook = await receiver.waitFor(
      (h) =>
        (h.body as { statusType?: number }).statusType === 4 && hooksFor(input.invoice.invoiceId, h.path).includes(h),
    );
    // The API answers NotFound for a cancelled request, as for one it never saw: that confirms nothing, so the
    // webhook is refused and the invoice learns the outcome by polling.
    expect(await verifyXprizoApprovalWebhook(hook.body, client)).toMatchObject({ ok: false });
  });

  it('refuses, without retry, an invoice without the customer wallet', async () => {
    const failure = await failureOf(
      createXprizoAdapter(client).submit(stepInput({ paymentMethod: { type: 'wallet' } })),
    );
    expect(failure).toMatchObject({ type: 'ProviderRejected', nonRetryable: true });
  });
});

describe('xprizo pay-out (SendPayment with hold)', () => {
  it('callback answered 200 releases the hold: Active, settled; retried submit sends once', async () => {
    const adapter = createXprizoAdapter(client);
    const input = stepInput({ direction: 'pay_out' });
    const reference = input.invoice.invoiceId;
    const verdicts: unknown[] = [];
    receiver.answer = async (hook) => {
      if (hook.path !== PAYMENT) return 200;
      const verified = await verifyXprizoPaymentCallback(hook.body, client);
      verdicts.push(verified);
      return verified.ok ? 200 : 400;
    };
    const submitted = await adapter.submit(input);
    await adapter.submit(input);
    expect(submitted).toMatchObject({ compensation: 'void_hold' });
    expect(server.get('xprizo').counter.get('transaction', reference)).toBe(1);
    await receiver.waitFor((h) => h.path === PAYMENT && hooksFor(reference, h.path).includes(h));
    await waitUntil(() => sandbox.transaction(reference)?.state === 'Active');
    expect(verdicts[0]).toMatchObject({ ok: true, invoiceId: reference, event: { status: 'approval_requested' } });
    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'settled',
    });
    // The release is also announced as Accepted (sandbox default), which verifies as settled.
    const accepted = await receiver.waitFor(
      (h) => (h.body as { statusType?: number }).statusType === 2 && hooksFor(reference, APPROVAL).includes(h),
    );
    expect(await verifyXprizoApprovalWebhook(accepted.body, client)).toMatchObject({
      ok: true,
      event: { status: 'settled' },
    });
  });

  it('callback answered 500 voids the hold: NotFound, cancelled, money back', async () => {
    const adapter = createXprizoAdapter(client);
    const input = stepInput({ direction: 'pay_out' });
    const reference = input.invoice.invoiceId;
    const before = sandbox.merchantBalance();
    receiver.answer = (hook) => Promise.resolve(hook.path === PAYMENT ? 500 : 200);
    const submitted = await adapter.submit(input);
    await waitUntil(() => sandbox.transaction(reference)?.state === 'Voided');
    expect(sandbox.merchantBalance()).toBe(before);
    expect(await client.statusByReference(reference)).toMatchObject({ status: 'NotFound' });
    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'cancelled',
    });
    // A callback replayed after the void is contradicted by the API.
    const callback = receiver.received.find((h) => h.path === PAYMENT && hooksFor(reference, h.path).includes(h));
    expect(await verifyXprizoPaymentCallback(callback?.body, client)).toMatchObject({ ok: false });
  });

  it('an unanswered callback keeps the hold; void_hold compensation voids it', async () => {
    const adapter = createXprizoAdapter(client);
    const input = stepInput({ direction: 'pay_out' });
    const reference = input.invoice.invoiceId;
    receiver.answer = (hook) => Promise.resolve(hook.path === PAYMENT ? 'drop' : 200);
    const submitted = await adapter.submit(input);
    await receiver.waitFor((h) => h.path === PAYMENT && hooksFor(reference, h.path).includes(h));
    expect(sandbox.transaction(reference)?.state).toBe('Hold');
    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'approval_requested',
    });
    await expect(
      adapter.compensate({ ...input, refs: submitted.refs ?? {}, action: 'void_hold' }),
    ).resolves.toMatchObject({
      providerStatus: 'cancelled',
    });
    expect(sandbox.transaction(reference)?.state).toBe('Voided');
  });

  it('insufficient merchant balance is a final InsufficientFunds', async () => {
    const before = sandbox.merchantBalance();
    sandbox.setMerchantBalance(100);
    try {
      const failure = await failureOf(createXprizoAdapter(client).submit(stepInput({ direction: 'pay_out' })));
      expect(failure).toMatchObject({ type: 'InsufficientFunds', nonRetryable: true });
    } finally {
      sandbox.setMerchantBalance(before);
    }
  });
});

describe('xprizo errors and preferences', () => {
  const options = () => ({
    baseUrl: `${server.url}/xprizo`,
    apiKey: SANDBOX_CREDENTIALS.apiKey,
    merchantAccountId: SANDBOX_CREDENTIALS.merchantAccountId,
    timeoutMs: 2000,
  });

  it('a wrong key is a final ProviderAuthFailed', async () => {
    const bad = new XprizoClient({ ...options(), apiKey: 'wrong' });
    expect(await failureOf(bad.statusByReference('x'))).toMatchObject({
      type: 'ProviderAuthFailed',
      nonRetryable: true,
    });
  });

  it('503 is a retryable ProviderUnavailable', async () => {
    server.get('xprizo').faults.set({ errorRate: 1 });
    expect(await failureOf(client.statusByReference('x'))).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
  });

  it('429 is a retryable ProviderRateLimited honouring Retry-After', async () => {
    server.get('xprizo').faults.set({ rateLimitBurst: 1 });
    const failure = await failureOf(client.statusByReference('x'));
    expect(failure).toMatchObject({ type: 'ProviderRateLimited', nonRetryable: false });
    expect(failure.nextRetryDelay).toBe(1000);
  });

  it('a timeout is retryable', async () => {
    server.get('xprizo').faults.set({ timeoutRate: 1, timeoutHoldMs: 1000 });
    const quick = new XprizoClient({ ...options(), timeoutMs: 200 });
    expect(await failureOf(quick.statusByReference('x'))).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
  });

  describe.each(['query', 'path'] as const)('SetApprovalWebhook / SetPaymentWebhook, URL in the %s', (form) => {
    // A query of its own, `&` included: an unencoded URL would lose its tail to the Preference call's own query.
    const registered = (which: string) => `${receiver.url}/webhooks/xprizo/t0k3n/${which}?via=${form}&n=1`;

    afterEach(() => {
      sandbox.approvalWebhookUrl = undefined;
      sandbox.paymentWebhookUrl = undefined;
      sandbox.preferenceCalls.length = 0;
    });

    it('PUTs the URL, encoded, with the API headers and no body; the 200 resolves; the sandbox calls the URL', async () => {
      const formClient = new XprizoClient({ ...options(), webhookUrlForm: form });
      await expect(formClient.setApprovalWebhook(registered('approval'))).resolves.toBeUndefined();
      await expect(formClient.setPaymentWebhook(registered('payment'))).resolves.toBeUndefined();

      const calls = sandbox.preferenceCalls;
      expect(calls.map((call) => call.operation)).toEqual(['SetApprovalWebhook', 'SetPaymentWebhook']);
      for (const [index, which] of ['approval', 'payment'].entries()) {
        const call = calls[index];
        const operation = index === 0 ? 'SetApprovalWebhook' : 'SetPaymentWebhook';
        expect(call).toMatchObject({
          method: 'PUT',
          form,
          // What reached the server, decoded once: the whole URL, its own query included.
          url: registered(which),
          body: undefined,
        });
        if (form === 'query') {
          expect(call?.path).toBe(`/Preference/${operation}`);
          expect(call?.query).toEqual(['url']);
        } else {
          expect(call?.path).toBe(`/Preference/${operation}/${encodeURIComponent(registered(which))}`);
          expect(call?.query).toEqual([]);
        }
        expect(call?.headers).toMatchObject({
          'x-api-key': SANDBOX_CREDENTIALS.apiKey,
          'x-api-version': '1.0',
          accept: 'text/plain; x-api-version=1.0',
        });
        // No body, so no content type.
        expect(call?.headers['content-type']).toBeUndefined();
      }
      expect(sandbox.approvalWebhookUrl).toBe(registered('approval'));
      expect(sandbox.paymentWebhookUrl).toBe(registered('payment'));

      // Registering again is the same registration.
      await formClient.setApprovalWebhook(registered('approval'));
      expect(sandbox.approvalWebhookUrl).toBe(registered('approval'));

      // The sandbox's next webhooks go to the registered URLs.
      const input = stepInput({ direction: 'pay_out' });
      receiver.answer = (hook) => Promise.resolve(hook.path.includes('/payment') ? 'drop' : 200);
      await createXprizoAdapter(client).submit(input);
      const hook = await receiver.waitFor(
        (h) =>
          h.path === `/webhooks/xprizo/t0k3n/payment?via=${form}&n=1` &&
          hooksFor(input.invoice.invoiceId, h.path).includes(h),
      );
      expect(hook.body).toMatchObject({ reference: input.invoice.invoiceId, currencyCode: 'USD', amount: 125 });
      await createXprizoAdapter(client).compensate({ ...input, action: 'void_hold' });
    });

    it('a refused registration is a final ProviderRejected naming the operation', async () => {
      const formClient = new XprizoClient({ ...options(), webhookUrlForm: form });
      const failure = await failureOf(formClient.setPaymentWebhook('not-a-url'));
      expect(failure).toMatchObject({ type: 'ProviderRejected', nonRetryable: true });
      expect(failure.message).toMatch(/SetPaymentWebhook: Invalid url/);
      expect(sandbox.paymentWebhookUrl).toBeUndefined();
    });
  });
});

async function waitUntil(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
