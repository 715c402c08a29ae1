import { startSandboxes, type SandboxHandle, type SandboxServer } from '../../src/providers/sandbox/server';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { alfred } from '../../src/providers/alfred';
import { createAlfredAdapter } from '../../src/providers/alfred/adapter';
import { AlfredClient, SANDBOX_CREDENTIALS, type AlfredClientOptions } from '../../src/providers/alfred/client';
import type { AlfredSandbox } from '../../src/providers/alfred/sandbox';
import { alfredWebhookToEvent, verifyAlfredWebhook } from '../../src/providers/alfred/webhook';
import type { ProviderAdapter, StepInput, StepResult } from '../../src/providers/types';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver';
import { failureOf } from '../support/failures';
import { alfredStepInput, runStep } from '../support/alfred';

const logger = createLogger({ level: 'silent' });
const TIME_SCALE = 0.01; // the 2-minute token lives 1.2 s
let server: SandboxServer;
let handle: SandboxHandle<AlfredSandbox>;
const receiver = new WebhookReceiver();

beforeAll(async () => {
  receiver.successBody = '{"message":"success"}';
  await receiver.start();
  server = await startSandboxes({
    port: 0,
    logger,
    webhookBaseUrl: `${receiver.url}/webhooks`,
    timeScale: TIME_SCALE,
  });
  handle = server.get<AlfredSandbox>('alfred');
});

afterAll(async () => {
  await server.close();
  await receiver.stop();
});

afterEach(() => handle.faults.set({ errorRate: 0, timeoutRate: 0, rateLimitBurst: 0 }));

function client(overrides: Partial<AlfredClientOptions> = {}): AlfredClient {
  return new AlfredClient({
    baseUrl: `${server.url}/alfred`,
    apiKey: SANDBOX_CREDENTIALS.apiKey,
    apiSecret: SANDBOX_CREDENTIALS.apiSecret,
    timeoutMs: 2_000,
    ...overrides,
  });
}

async function throughSubmit(adapter: ProviderAdapter, input: StepInput): Promise<StepResult> {
  await runStep(input, 'kyc', (i) => adapter.kyc?.(i));
  await runStep(input, 'paymentMethod', (i) => adapter.paymentMethod?.(i));
  await runStep(input, 'bank', (i) => adapter.bank?.(i));
  return runStep(input, 'submit', (i) => adapter.submit(i));
}

function waitForWebhook(match: (webhook: ReceivedWebhook) => boolean): Promise<ReceivedWebhook> {
  return receiver.waitFor(match);
}

function verify(webhook: ReceivedWebhook) {
  const headers = Object.fromEntries(
    Object.entries(webhook.headers).map(([key, value]) => [key, Array.isArray(value) ? value[0] : value]),
  );
  return verifyAlfredWebhook({ rawBody: webhook.rawBody, headers, secret: SANDBOX_CREDENTIALS.webhookSecret });
}

describe('alfred Penny API against its sandbox', () => {
  it('pay-out: KYC (lite + full), payment method, bank, submit, signed approval request, approve, settled', async () => {
    const alfredClient = client();
    const adapter = createAlfredAdapter(alfredClient);
    const input = alfredStepInput('al');
    const submitted = await throughSubmit(adapter, input);
    expect(input.refs.alfredKycLevel).toBe('full');
    expect(submitted).toMatchObject({ providerStatus: 'pending', compensation: 'cancel_invoice' });
    const alfredInvoiceId = input.refs.alfredInvoiceId;
    expect(alfredInvoiceId).toBeDefined();
    expect(input.refs.alfredTransactionId).toBeDefined();
    // No token ever reaches refs.
    expect(JSON.stringify(input.refs)).not.toMatch(/eyJ/);

    const approvalRequest = await waitForWebhook((w) => w.rawBody.includes(`"invoices":"${alfredInvoiceId}"`));
    expect(approvalRequest.headers['x-api-key']).toBe(SANDBOX_CREDENTIALS.apiKey);
    const verified = verify(approvalRequest);
    expect(verified.ok).toBe(true);
    if (!verified.ok) return;
    expect(alfredWebhookToEvent(verified.event)).toMatchObject({
      status: 'approval_requested',
      ref: { key: 'alfredInvoiceId', value: alfredInvoiceId },
    });
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({ status: 'approval_requested' });

    await expect(runStep(input, 'approveAtProvider', (i) => adapter.approveAtProvider?.(i))).resolves.toMatchObject({
      providerStatus: 'approved',
    });
    const settlement = await waitForWebhook(
      (w) => w.headers.signature !== undefined && w.rawBody.includes(String(input.refs.alfredTransactionId)),
    );
    const settled = verify(settlement);
    expect(settled.ok && alfredWebhookToEvent(settled.event)).toMatchObject({
      status: 'settled',
      ref: { key: 'alfredInvoiceId', value: alfredInvoiceId },
    });
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({ status: 'settled' });
    expect(handle.counter.get('transaction', input.invoice.invoiceId)).toBe(1);
    // The customer is known now: a second invoice needs no KYC-full upload.
    expect(handle.counter.get('kyc_upload', input.invoice.customer.email)).toBe(1);
  });

  it('pay-in: submit, customer pays, alfred approves, ONRAMP settlement webhook', async () => {
    const adapter = createAlfredAdapter(client());
    const input = alfredStepInput('al', { direction: 'pay_in' });
    await throughSubmit(adapter, input);
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({ status: 'pending' });
    const alfredInvoiceId = String(input.refs.alfredInvoiceId);
    const paid = await fetch(`${server.url}/alfred/_sandbox/invoices/${alfredInvoiceId}/pay`, { method: 'POST' });
    expect(paid.status).toBe(200);
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({ status: 'settled' });
    const webhook = await waitForWebhook((w) => w.rawBody.includes('"ONRAMP"') && w.rawBody.includes(alfredInvoiceId));
    const verified = verify(webhook);
    expect(verified.ok && alfredWebhookToEvent(verified.event)?.status).toBe('settled');
    // A pay-in sends no approval request.
    expect(receiver.received.some((w) => w.rawBody.includes(`"invoices":"${alfredInvoiceId}"`))).toBe(false);
  });

  it('a retried submit creates exactly one transaction, even when the first answer was lost', async () => {
    const adapter = createAlfredAdapter(client());
    const input = alfredStepInput('al');
    const first = await throughSubmit(adapter, input);
    const retryInput = { ...input, refs: { ...input.refs }, idempotencyKey: `${input.invoice.invoiceId}:submit` };
    delete retryInput.refs.alfredTransactionId;
    delete retryInput.refs.alfredInvoiceId;
    const second = await adapter.submit(retryInput);
    const third = await adapter.submit(retryInput);
    // A submit found again names what the first created; the quote refs stay those the first submit recorded.
    const created = {
      alfredTransactionId: first.refs?.alfredTransactionId,
      alfredInvoiceId: first.refs?.alfredInvoiceId,
    };
    expect(second.refs).toEqual(created);
    expect(third.refs).toEqual(created);
    expect(handle.counter.get('transaction', input.invoice.invoiceId)).toBe(1);
    expect(handle.sandbox.findByReference(input.invoice.invoiceId)).toHaveLength(1);
  });

  it('cancels the invoice as compensation and reports expiry', async () => {
    const adapter = createAlfredAdapter(client());
    const input = alfredStepInput('al');
    await throughSubmit(adapter, input);
    await expect(adapter.compensate({ ...input, action: 'cancel_invoice' })).resolves.toMatchObject({
      providerStatus: 'cancelled',
    });
    await expect(adapter.compensate({ ...input, action: 'cancel_invoice' })).resolves.toMatchObject({
      providerStatus: 'cancelled',
    });
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({ status: 'cancelled' });

    const other = alfredStepInput('al', { direction: 'pay_in' });
    await throughSubmit(adapter, other);
    handle.sandbox.expire(String(other.refs.alfredInvoiceId));
    await expect(adapter.fetchStatus(other)).resolves.toMatchObject({ status: 'expired' });
  });

  it('renews the 2-minute token when it lapses and when alfred answers 401', async () => {
    const alfredClient = client();
    const adapter = createAlfredAdapter(alfredClient);
    const input = alfredStepInput('al');
    await runStep(input, 'kyc', (i) => adapter.kyc?.(i));
    expect(alfredClient.logins).toBe(1);
    await runStep(input, 'paymentMethod', (i) => adapter.paymentMethod?.(i));
    expect(alfredClient.logins).toBe(1);

    // alfred forgets the token early: the call answers 401, the client signs in again and repeats it once.
    handle.sandbox.expireTokens();
    await runStep(input, 'bank', (i) => adapter.bank?.(i));
    expect(alfredClient.logins).toBe(2);

    // The token's own lifetime (1.2 s here) runs out: renewed before the call, without a 401.
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    await runStep(input, 'submit', (i) => adapter.submit(i));
    expect(alfredClient.logins).toBe(3);
    expect(handle.counter.get('login', input.invoice.customer.email)).toBe(3);
    expect(handle.counter.get('transaction', input.invoice.invoiceId)).toBe(1);
  });

  it('builds from the config with sandbox defaults', async () => {
    const port = new URL(server.url).port;
    const adapter = alfred.create({ config: loadConfig({ NODE_ENV: 'test', SANDBOX_PORT: port }), logger });
    const input = alfredStepInput('al', { direction: 'pay_in' });
    await expect(throughSubmit(adapter, input)).resolves.toMatchObject({ providerStatus: 'pending' });
  });

  describe('error classes', () => {
    it('422 VALIDATION_ERROR on KYC: KycFailed, final', async () => {
      const input = alfredStepInput('al');
      const customer = { ...input.invoice.customer, address: undefined };
      const error = await failureOf(
        createAlfredAdapter(client()).kyc?.({ ...input, invoice: { ...input.invoice, customer } }),
      );
      expect(error.type).toBe('KycFailed');
      expect(error.nonRetryable).toBe(true);
      expect(error.message).toMatch(/VALIDATION_ERROR/);
      expect(error.message).toMatch(/address isNotEmpty/);
    });

    it('422 on a later step: ProviderRejected, final', async () => {
      const adapter = createAlfredAdapter(client());
      const input = alfredStepInput('al', { direction: 'pay_in' });
      await throughSubmit(adapter, input);
      const error = await failureOf(adapter.approveAtProvider?.(input));
      expect(error.type).toBe('ProviderRejected');
      expect(error.nonRetryable).toBe(true);
    });

    it('bad API key: ProviderAuthFailed, final, without the secret in the message', async () => {
      const error = await failureOf(createAlfredAdapter(client({ apiSecret: 'wrong' })).kyc?.(alfredStepInput('al')));
      expect(error.type).toBe('ProviderAuthFailed');
      expect(error.nonRetryable).toBe(true);
      expect(error.message).not.toContain(SANDBOX_CREDENTIALS.apiSecret);
    });

    it('503: ProviderUnavailable, retryable', async () => {
      handle.faults.set({ errorRate: 1 });
      const error = await failureOf(createAlfredAdapter(client()).kyc?.(alfredStepInput('al')));
      expect(error.type).toBe('ProviderUnavailable');
      expect(error.nonRetryable).toBe(false);
    });

    it('429: ProviderRateLimited, retryable after Retry-After', async () => {
      handle.faults.set({ rateLimitBurst: 1 });
      const error = await failureOf(createAlfredAdapter(client()).kyc?.(alfredStepInput('al')));
      expect(error.type).toBe('ProviderRateLimited');
      expect(error.nonRetryable).toBe(false);
      expect(error.nextRetryDelay).toBe(1000);
    });

    it('timeout: ProviderUnavailable, retryable', async () => {
      handle.faults.set({ timeoutRate: 1, timeoutHoldMs: 400 });
      const error = await failureOf(createAlfredAdapter(client({ timeoutMs: 150 })).kyc?.(alfredStepInput('al')));
      expect(error.type).toBe('ProviderUnavailable');
      expect(error.nonRetryable).toBe(false);
    });
  });

  it("retries a refused webhook with the first attempt's bytes and signature, one replay key for all", async () => {
    // Every webhook is refused 7 times, as by a gateway that cannot deliver it yet, so alfred retries it: the 8th
    // attempt comes 2.5 s after the first at this time scale, seconds later, where a fresh signature would differ.
    const refusals = 7;
    receiver.answer = (hook) =>
      Promise.resolve(receiver.received.filter((w) => w.rawBody === hook.rawBody).length <= refusals ? 500 : 200);
    try {
      const adapter = createAlfredAdapter(client());
      const payOut = alfredStepInput('al');
      await throughSubmit(adapter, payOut);
      const payIn = alfredStepInput('al', { direction: 'pay_in' });
      await throughSubmit(adapter, payIn);
      const paid = await fetch(`${server.url}/alfred/_sandbox/invoices/${String(payIn.refs.alfredInvoiceId)}/pay`, {
        method: 'POST',
      });
      expect(paid.status).toBe(200);
      const needles = [`"invoices":"${String(payOut.refs.alfredInvoiceId)}"`, String(payIn.refs.alfredInvoiceId)];
      for (const needle of needles) {
        const attempts = () => receiver.received.filter((w) => w.rawBody.includes(needle));
        await receiver.waitFor(() => attempts().length > refusals, 10_000);
        const all = attempts();
        expect(all).toHaveLength(refusals + 1);
        expect(new Set(all.map((w) => `${w.rawBody} ${String(w.headers.signature)}`)).size).toBe(1);
        const keys = new Set(
          all.map((w) => {
            const result = verify(w);
            return result.ok ? result.replayKey : result.reason;
          }),
        );
        expect(keys.size).toBe(1);
        const [key] = keys;
        expect(key).toMatch(/^[ls]:/);
      }
    } finally {
      receiver.answer = () => Promise.resolve(200);
    }
  });

  it("the gateway's webhook route verifies and names the invoice by refs.alfredInvoiceId", async () => {
    const adapter = createAlfredAdapter(client());
    const input = alfredStepInput('al');
    await throughSubmit(adapter, input);
    const alfredInvoiceId = String(input.refs.alfredInvoiceId);
    const webhook = await waitForWebhook((w) => w.rawBody.includes(`"invoices":"${alfredInvoiceId}"`));
    const route = alfred.webhooks?.[0];
    if (!route) throw new Error('alfred declares no webhook route');
    const config = loadConfig({ NODE_ENV: 'test' });
    const headers = Object.fromEntries(
      Object.entries(webhook.headers).map(([key, value]) => [key, Array.isArray(value) ? value[0] : value]),
    );
    const incoming = { rawBody: webhook.rawBody, body: JSON.parse(webhook.rawBody) as unknown, headers };
    const first = await route.verify(incoming, { adapter, config });
    expect(first).toMatchObject({
      ok: true,
      event: {
        provider: 'alfred',
        status: 'approval_requested',
        ref: { key: 'alfredInvoiceId', value: alfredInvoiceId },
      },
      invoice: { providerRef: { key: 'alfredInvoiceId', value: alfredInvoiceId } },
    });
    // alfred re-sends the same signed webhook after any non-2xx: within the window it verifies again, with the same
    // event id, so the workflow applies it once however often it comes.
    const again = await route.verify(incoming, { adapter, config });
    expect(again).toEqual(first);
    const tampered = { ...incoming, rawBody: webhook.rawBody.replace(alfredInvoiceId, 'another-invoice') };
    await expect(route.verify(tampered, { adapter, config })).resolves.toMatchObject({ ok: false, status: 401 });
    expect(route.answer('delivered')).toEqual({ status: 200, body: { message: 'success' } });
  });
});
