// First: the registry must load before a provider's own index (providers/index -> payone -> client -> sandbox/server).
import { startSandboxes, type SandboxHandle, type SandboxServer } from '../../src/providers/sandbox/server';
import { loadConfig } from '../../src/config';
import { InvoiceRequestSchema, type InvoiceRequestInput } from '../../src/domain/invoice';
import { createLogger } from '../../src/logger';
import { payone } from '../../src/providers/payone';
import { createPayOneAdapter } from '../../src/providers/payone/adapter';
import { PayOneClient, SANDBOX_CREDENTIALS, type PayOneClientOptions } from '../../src/providers/payone/client';
import type { PayOneSandbox } from '../../src/providers/payone/sandbox';
import type { StepInput } from '../../src/providers/types';
import { failureOf } from '../support/failures';

const logger = createLogger({ level: 'silent' });
let server: SandboxServer;
let handle: SandboxHandle<PayOneSandbox>;
let counter = 0;

beforeAll(async () => {
  // PayOne sends no webhooks; the receiver address is never called.
  server = await startSandboxes({ port: 0, logger, webhookBaseUrl: 'http://127.0.0.1:9/webhooks', timeScale: 0.001 });
  handle = server.get<PayOneSandbox>('payone');
});
afterAll(() => server.close());
afterEach(() => {
  handle.faults.set({ errorRate: 0, timeoutRate: 0, rateLimitBurst: 0 });
  handle.sandbox.setCreatedInactive(false);
});

function client(overrides: Partial<PayOneClientOptions> = {}): PayOneClient {
  return new PayOneClient({
    baseUrl: `${server.url}/payone`,
    merchantId: SANDBOX_CREDENTIALS.merchantId,
    authToken: SANDBOX_CREDENTIALS.authToken,
    timeoutMs: 2_000,
    ...overrides,
  });
}

function input(overrides: Partial<InvoiceRequestInput> = {}): StepInput {
  const invoiceId = `po_${Date.now()}_${counter++}`;
  const invoice = InvoiceRequestSchema.parse({
    invoiceId,
    provider: 'payone',
    direction: 'pay_in',
    amount: 1250,
    currency: 'JOD',
    description: 'Order 42',
    customer: { id: 'cust-1', firstName: 'Lina', lastName: 'Haddad', email: 'lina@example.com', country: 'JO' },
    approval: { required: true, timeoutSeconds: 3_600 },
    ...overrides,
  });
  return { invoice, refs: {}, idempotencyKey: `${invoice.invoiceId}:submit` };
}

describe('PayOne SmartLink against its sandbox', () => {
  const adapter = () => createPayOneAdapter(client());

  it('runs the flow: create pre-auth invoice, customer pre-authorizes, complete, settled', async () => {
    const step = input();
    const submitted = await adapter().submit(step);
    expect(submitted).toMatchObject({
      refs: { payoneInvoiceId: step.invoice.invoiceId },
      providerStatus: 'pending',
      compensation: 'deactivate',
    });
    const refs = { ...step.refs, ...submitted.refs };
    await expect(adapter().fetchStatus({ ...step, refs })).resolves.toMatchObject({ status: 'pending' });
    handle.sandbox.preAuthorize(step.invoice.invoiceId);
    await expect(adapter().fetchStatus({ ...step, refs })).resolves.toMatchObject({ status: 'authorized' });
    const completed = await adapter().complete?.({
      ...step,
      refs,
      idempotencyKey: `${step.invoice.invoiceId}:complete`,
    });
    expect(completed?.providerStatus).toBe('settled');
    expect(completed?.refs?.payoneRrn).toMatch(/^\d{30}$/);
    await expect(adapter().fetchStatus({ ...step, refs })).resolves.toMatchObject({ status: 'settled' });
    // A retried completion (its answer lost) finds the invoice completed: success, not a refusal.
    await expect(adapter().complete?.({ ...step, refs })).resolves.toMatchObject({ providerStatus: 'settled' });
  });

  it('sends amounts in minor units and the numeric currency (JPY, USD, JOD)', async () => {
    for (const [currency, amount] of [
      ['JPY', 500],
      ['USD', 12500],
      ['JOD', 1250],
    ] as const) {
      const step = input({ currency, amount });
      await adapter().submit(step);
      const stored = handle.sandbox.get(step.invoice.invoiceId);
      expect(stored).toMatchObject({ amount, currency: { JPY: '392', USD: '840', JOD: '400' }[currency] });
    }
  });

  it('a retried submit creates exactly one invoice', async () => {
    const step = input();
    const first = await adapter().submit(step);
    const second = await adapter().submit(step);
    expect(second.refs?.payoneInvoiceId).toBe(first.refs?.payoneInvoiceId);
    expect(handle.counter.get('invoice', step.invoice.invoiceId)).toBe(1);
  });

  it('activates an invoice PayOne created inactive', async () => {
    handle.sandbox.setCreatedInactive(true);
    const step = input();
    await expect(adapter().submit(step)).resolves.toMatchObject({ providerStatus: 'pending' });
    expect(handle.sandbox.get(step.invoice.invoiceId)?.status).toBe('active');
  });

  it('refuses to take over an invoiceID PayOne holds for another amount', async () => {
    const step = input();
    await adapter().submit(step);
    const clash = { ...step, invoice: { ...step.invoice, amount: 9999 } };
    const error = await failureOf(adapter().submit(clash));
    expect(error.type).toBe('ProviderRejected');
    expect(error.nonRetryable).toBe(true);
  });

  it('refuses to complete more than the customer pre-authorized', async () => {
    const step = input({ amount: 2000 });
    await adapter().submit(step);
    handle.sandbox.preAuthorize(step.invoice.invoiceId, 1500);
    const error = await failureOf(adapter().complete!(step));
    expect(error.type).toBe('ProviderRejected');
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/PRE-AUTHORIZED AMOUNT/);
  });

  it('deactivates as compensation, and refuses to call an undo done when PayOne did not do it', async () => {
    const step = input();
    await adapter().submit(step);
    await expect(adapter().compensate({ ...step, action: 'deactivate' })).resolves.toMatchObject({
      providerStatus: 'cancelled',
    });
    await expect(adapter().fetchStatus(step)).resolves.toMatchObject({ status: 'cancelled' });
    // Compensation retried after success: still done.
    await expect(adapter().compensate({ ...step, action: 'deactivate' })).resolves.toMatchObject({
      providerStatus: 'cancelled',
    });

    const held = input();
    await adapter().submit(held);
    handle.sandbox.preAuthorize(held.invoice.invoiceId);
    // A pre-authorization PayOne will not deactivate: the undo failed, and the workflow must record it as failed.
    const notDeactivated = await adapter()
      .compensate({ ...held, action: 'deactivate' })
      .catch((error: unknown) => error);
    expect(notDeactivated).toMatchObject({ type: 'CompensationNotDone' });
    expect(String(notDeactivated)).toMatch(/did not deactivate/);

    const captured = input();
    await adapter().submit(captured);
    handle.sandbox.preAuthorize(captured.invoice.invoiceId);
    await adapter().complete?.(captured);
    const pastCapture = await adapter()
      .compensate({ ...captured, action: 'deactivate' })
      .catch((error: unknown) => error);
    expect(pastCapture).toMatchObject({ type: 'CompensationNotDone' });
    expect(String(pastCapture)).toMatch(/already captured/);
  });

  it('expires an invoice after its expiryperiod (scaled)', async () => {
    const step = input({ approval: { required: true, timeoutSeconds: 60, approvers: [] } });
    await adapter().submit(step);
    await new Promise((resolve) => setTimeout(resolve, 120));
    await expect(adapter().fetchStatus(step)).resolves.toMatchObject({ status: 'expired' });
  });

  it('lets a customer pre-authorize over HTTP', async () => {
    const step = input();
    await adapter().submit(step);
    const response = await fetch(`${server.url}/payone/_sandbox/invoices/${step.invoice.invoiceId}/preauthorize`, {
      method: 'POST',
    });
    expect(response.status).toBe(200);
    await expect(adapter().fetchStatus(step)).resolves.toMatchObject({ status: 'authorized' });
  });

  it('builds from the config with sandbox defaults', async () => {
    const port = new URL(server.url).port;
    const configured = payone.create({ config: loadConfig({ NODE_ENV: 'test', SANDBOX_PORT: port }), logger });
    await expect(configured.submit(input())).resolves.toMatchObject({ providerStatus: 'pending' });
  });

  describe('error classes', () => {
    it('bad credentials: ProviderAuthFailed, final', async () => {
      const error = await failureOf(createPayOneAdapter(client({ authToken: 'wrong' })).submit(input()));
      expect(error.type).toBe('ProviderAuthFailed');
      expect(error.nonRetryable).toBe(true);
      expect(error.message).not.toContain(SANDBOX_CREDENTIALS.authToken);
    });

    it('503: ProviderUnavailable, retryable, and nothing was created', async () => {
      handle.faults.set({ errorRate: 1 });
      const step = input();
      const error = await failureOf(adapter().submit(step));
      expect(error.type).toBe('ProviderUnavailable');
      expect(error.nonRetryable).toBe(false);
      expect(handle.counter.get('invoice', step.invoice.invoiceId)).toBe(0);
    });

    it('429: ProviderRateLimited, retryable after Retry-After', async () => {
      handle.faults.set({ rateLimitBurst: 1 });
      const error = await failureOf(adapter().fetchStatus(input()));
      expect(error.type).toBe('ProviderRateLimited');
      expect(error.nonRetryable).toBe(false);
      expect(error.nextRetryDelay).toBe(1000);
    });

    it('timeout: ProviderUnavailable, retryable', async () => {
      handle.faults.set({ timeoutRate: 1, timeoutHoldMs: 400 });
      const error = await failureOf(createPayOneAdapter(client({ timeoutMs: 150 })).submit(input()));
      expect(error.type).toBe('ProviderUnavailable');
      expect(error.nonRetryable).toBe(false);
      expect(error.message).toMatch(/^payone /);
    });
  });
});
