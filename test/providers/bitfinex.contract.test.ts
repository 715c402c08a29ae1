import { loadConfig } from '../../src/config';
import { InvoiceRequestSchema, type InvoiceRequestInput } from '../../src/domain/invoice';
import { createLogger } from '../../src/logger';
import { createBitfinexAdapter } from '../../src/providers/bitfinex/adapter';
import {
  BitfinexClient,
  bitfinexOptionsFromConfig,
  type BitfinexClientOptions,
} from '../../src/providers/bitfinex/client';
import { PATHS, SANDBOX_CREDENTIALS } from '../../src/providers/bitfinex/constants';
import { sign } from '../../src/providers/bitfinex/auth';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInvoiceBody } from '../../src/providers/bitfinex/mapping';
import type { CreateInvoiceBody } from '../../src/providers/bitfinex/schemas';
import type { BitfinexSandbox } from '../../src/providers/bitfinex/sandbox';
import { readBitfinexWebhook } from '../../src/providers/bitfinex/webhook';
import { startSandboxes, type SandboxServer } from '../../src/providers/sandbox/server';
import { WebhookReceiver } from '../support/webhook-receiver';
import type { StepInput } from '../../src/providers/types';
import { failureOf } from '../support/failures';

const logger = createLogger({ level: 'silent' });
type InvoiceHook = { id: string; status: string; orderId: string };
const receiver = new WebhookReceiver();
let receiverUrl = '';
let server: SandboxServer;
let sandbox: BitfinexSandbox;
let options: BitfinexClientOptions;
let client: BitfinexClient;
let n = 0;

function stepInput(overrides: Partial<InvoiceRequestInput> = {}): StepInput {
  const invoiceId = `bf_${Date.now().toString(36)}_${n++}`;
  const invoice = InvoiceRequestSchema.parse({
    invoiceId,
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
      address: { street: 'Av. Corrientes 1234', city: 'Buenos Aires', zip: 'C1043' },
    },
    paymentMethod: { type: 'crypto', payCurrencies: ['BTC', 'ETH'] },
    settlementTimeoutSeconds: 3600,
    ...overrides,
  });
  return { invoice, refs: {}, idempotencyKey: `${invoiceId}:submit` };
}

async function hookFor(id: string, status: string): Promise<{ path: string; body: InvoiceHook }> {
  const hook = await receiver.waitFor((h) => {
    const body = h.body as InvoiceHook | undefined;
    return body?.id === id && body.status === status;
  });
  return { path: hook.path, body: hook.body as InvoiceHook };
}

beforeAll(async () => {
  await receiver.start();
  receiverUrl = receiver.url;
  server = await startSandboxes({ port: 0, logger, webhookBaseUrl: receiverUrl, timeScale: 0.001 });
  sandbox = server.get<BitfinexSandbox>('bitfinex').sandbox;
  const config = loadConfig({
    NODE_ENV: 'test',
    SANDBOX_PORT: new URL(server.url).port,
    PROVIDER_TIMEOUT_MS: '2000',
    GATEWAY_PUBLIC_URL: receiverUrl,
  });
  options = bitfinexOptionsFromConfig(config);
  client = new BitfinexClient(options);
});

afterAll(async () => {
  server.app.server.closeAllConnections();
  await server.close();
  await receiver.stop();
});

afterEach(() => server.get('bitfinex').faults.set({ errorRate: 0, timeoutRate: 0, rateLimitBurst: 0 }));

describe('bitfinex invoices', () => {
  it('config points the client at the sandbox and the gateway webhook route', () => {
    expect(options.baseUrl).toBe(`http://127.0.0.1:${new URL(server.url).port}/bitfinex`);
    expect(options.webhookUrl).toBe(`${receiverUrl}/webhooks/bitfinex`);
    expect(options.apiKey).toBe(SANDBOX_CREDENTIALS.apiKey);
  });

  it('a retried submit finds the invoice by orderId instead of creating a second', async () => {
    const adapter = createBitfinexAdapter(client);
    const input = stepInput();
    const first = await adapter.submit(input);
    const again = await adapter.submit(input);
    expect(first).toMatchObject({ providerStatus: 'pending', compensation: 'expire_invoice' });
    expect(again.refs?.bitfinexInvoiceId).toBe(first.refs?.bitfinexInvoiceId);
    expect(server.get('bitfinex').counter.get('invoice', input.invoice.invoiceId)).toBe(1);
    const invoice = sandbox.invoice(first.refs?.bitfinexInvoiceId ?? '');
    expect(invoice).toMatchObject({
      type: 'ECOMMERCE',
      amount: 125,
      currency: 'USD',
      orderId: input.invoice.invoiceId,
    });
    expect(invoice?.webhook).toBe(`${receiverUrl}/webhooks/bitfinex`);
  });

  it('the create request carries the amount as a JSON number, as the docs type it', async () => {
    const input = stepInput({ amount: 12345 });
    await createBitfinexAdapter(client).submit(input);
    const sent = sandbox.requestLog.filter((r) => r.path === PATHS.create && r.body.includes(input.invoice.invoiceId));
    expect(sent).toHaveLength(1);
    const raw = sent[0]?.body ?? '';
    expect(raw).toContain('"amount":123.45,');
    expect(typeof (JSON.parse(raw) as { amount: unknown }).amount).toBe('number');
  });

  it('the sandbox refuses an amount sent as a string', async () => {
    const body = { ...createInvoiceBody(stepInput().invoice), amount: '125.00' };
    expect(await failureOf(client.createInvoice(body as unknown as CreateInvoiceBody))).toMatchObject({
      type: 'ProviderRejected',
      nonRetryable: true,
    });
  });

  it('without an address the invoice is a POS invoice', async () => {
    const input = stepInput();
    const customer = { ...input.invoice.customer, address: undefined };
    const result = await createBitfinexAdapter(client).submit({ ...input, invoice: { ...input.invoice, customer } });
    expect(sandbox.invoice(result.refs?.bitfinexInvoiceId ?? '')?.type).toBe('POS');
  });

  it('paid and confirmed: the COMPLETED webhook names the invoice; only the fetch says settled', async () => {
    const adapter = createBitfinexAdapter(client);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const id = submitted.refs?.bitfinexInvoiceId ?? '';
    sandbox.pay(id, 'ETH');
    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'paid',
    });
    const hook = await hookFor(id, 'COMPLETED');
    expect(hook.path).toBe('/webhooks/bitfinex');
    expect(readBitfinexWebhook(hook.body)).toMatchObject({
      ok: true,
      invoiceId: input.invoice.invoiceId,
      event: { eventId: `bitfinex:${id}:COMPLETED`, ref: { key: 'bitfinexInvoiceId', value: id } },
    });
    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'settled',
    });
    const late = await failureOf(
      adapter.compensate({ ...input, refs: submitted.refs ?? {}, action: 'expire_invoice' }),
    );
    expect(late.nonRetryable).toBe(true);
  });

  it('a webhook claiming COMPLETED for an unpaid invoice moves nothing: the fetch still says pending', async () => {
    const adapter = createBitfinexAdapter(client);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const invoice = await client.getInvoice(submitted.refs?.bitfinexInvoiceId ?? '');
    expect(readBitfinexWebhook({ ...invoice, status: 'COMPLETED' })).toMatchObject({ ok: true });
    await expect(adapter.fetchStatus({ ...input, refs: submitted.refs ?? {} })).resolves.toMatchObject({
      status: 'pending',
    });
  });

  it('expire_invoice compensation expires it; the EXPIRED webhook follows and the fetch agrees', async () => {
    const adapter = createBitfinexAdapter(client);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const refs = submitted.refs ?? {};
    await expect(adapter.compensate({ ...input, refs, action: 'expire_invoice' })).resolves.toMatchObject({
      providerStatus: 'expired',
    });
    await expect(adapter.compensate({ ...input, refs, action: 'expire_invoice' })).resolves.toMatchObject({
      providerStatus: 'expired',
    });
    const hook = await hookFor(refs.bitfinexInvoiceId ?? '', 'EXPIRED');
    expect(readBitfinexWebhook(hook.body)).toMatchObject({ ok: true, event: { status: 'expired' } });
    await expect(adapter.fetchStatus({ ...input, refs })).resolves.toMatchObject({ status: 'expired' });
  });

  it('manual complete needs a pay currency of the invoice and a deposit', async () => {
    const submitted = await createBitfinexAdapter(client).submit(stepInput());
    const id = submitted.refs?.bitfinexInvoiceId ?? '';
    expect(await failureOf(client.completeInvoice({ id, payCcy: 'DOGE', depositId: 1 }))).toMatchObject({
      type: 'ProviderRejected',
      nonRetryable: true,
    });
    expect(await failureOf(client.completeInvoice({ id, payCcy: 'BTC' }))).toMatchObject({ nonRetryable: true });
    const depositId = sandbox.addUnlinkedDeposit('BTC', 0.002);
    const completed = await client.completeInvoice({ id, payCcy: 'BTC', depositId });
    expect(completed).toMatchObject({ status: 'COMPLETED', payment: { forceCompleted: true, depositId } });
  });
});

describe('bitfinex auth, nonces and faults', () => {
  it('a bad signature is a final ProviderAuthFailed', async () => {
    const bad = new BitfinexClient({ ...options, apiSecret: 'wrong-secret' });
    expect(await failureOf(bad.listInvoices({ limit: 1 }))).toMatchObject({
      type: 'ProviderAuthFailed',
      nonRetryable: true,
    });
  });

  it('clients of one key share its nonces: interleaved calls of two clients are never refused as stale', async () => {
    const a = new BitfinexClient(options);
    const b = new BitfinexClient(options);
    const calls = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).listInvoices({ limit: 1 }));
    await expect(Promise.all(calls)).resolves.toHaveLength(20);
  });

  it('nonces increase; a stale nonce is refused and retryable', async () => {
    await client.listInvoices({ limit: 1 });
    await client.listInvoices({ limit: 1 });
    const behind = new BitfinexClient({ ...options, clock: () => Date.now() - 60_000 });
    expect(await failureOf(behind.listInvoices({ limit: 1 }))).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
  });

  it('503 is retryable; a timeout is retryable; a 429 fault is ProviderRateLimited', async () => {
    const faults = server.get('bitfinex').faults;
    faults.set({ errorRate: 1 });
    expect(await failureOf(client.listInvoices({ limit: 1 }))).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
    faults.set({ errorRate: 0, rateLimitBurst: 1 });
    expect(await failureOf(client.listInvoices({ limit: 1 }))).toMatchObject({
      type: 'ProviderRateLimited',
      nonRetryable: false,
    });
    faults.set({ timeoutRate: 1, timeoutHoldMs: 1000 });
    const quick = new BitfinexClient({ ...options, timeoutMs: 200 });
    expect(await failureOf(quick.listInvoices({ limit: 1 }))).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: false,
    });
  });

  it('more than 90 requests a minute from one key get ERR_RATE_LIMIT', async () => {
    // Its own key, so the limit it exhausts is not the one the other tests use; the sandbox counts before auth.
    const burst = new BitfinexClient({ ...options, apiKey: 'burst-key' });
    const before = sandbox.rateLimitRefusals;
    const listed = sandbox.requestsByPath.get(PATHS.list) ?? 0;
    for (let i = 0; i < 90; i++) {
      expect((await failureOf(burst.listInvoices({ limit: 1 }))).type).toBe('ProviderAuthFailed');
    }
    const limited = await failureOf(burst.listInvoices({ limit: 1 }));
    expect(limited).toMatchObject({ type: 'ProviderRateLimited', nonRetryable: false });
    expect(sandbox.rateLimitRefusals).toBe(before + 1);
    // Every one of them counted, the refused one too.
    expect(sandbox.requestsByPath.get(PATHS.list)).toBe(listed + 91);
  });
});

describe('bitfinex Complete Invoice (completion by hand)', () => {
  /** A request as the sandbox received it, seen by a forwarding recorder between the client and the sandbox. */
  interface Seen {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    rawBody: string;
  }
  const seen: Seen[] = [];
  let recorder: http.Server;
  let recorded: BitfinexClient;

  beforeAll(async () => {
    recorder = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        seen.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, rawBody });
        const headers = Object.fromEntries(
          Object.entries(request.headers).filter(
            (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[0] !== 'host',
          ),
        );
        fetch(`${server.url}${request.url ?? ''}`, { method: request.method, headers, body: rawBody }).then(
          async (answer) => {
            response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
            response.end(await answer.text());
          },
          () => response.destroy(),
        );
      });
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    const { port } = recorder.address() as AddressInfo;
    // Its own key's nonces: the recorder's client and the suite's would otherwise race for the same counter.
    recorded = new BitfinexClient({ ...options, baseUrl: `http://127.0.0.1:${port}/bitfinex` });
  });
  afterAll(async () => {
    recorder.closeAllConnections();
    await new Promise<void>((resolve) => recorder.close(() => resolve()));
  });

  const completeCalls = () => seen.filter((request) => request.path.endsWith(`/v2/${PATHS.complete}`));

  it('sends a signed POST with id, payCcy and depositId, and parses the force-completed invoice', async () => {
    const adapter = createBitfinexAdapter(recorded);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const id = submitted.refs?.bitfinexInvoiceId ?? '';
    const depositId = sandbox.addUnlinkedDeposit('ETH', 0.04166667);
    const before = completeCalls().length;

    const result = await adapter.forceComplete?.({
      ...input,
      refs: submitted.refs ?? {},
      completion: { payCcy: 'ETH', depositId },
    });

    const [request] = completeCalls().slice(before);
    expect(completeCalls()).toHaveLength(before + 1);
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/bitfinex/v2/${PATHS.complete}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['bfx-apikey']).toBe(SANDBOX_CREDENTIALS.apiKey);
    const nonce = String(request?.headers['bfx-nonce']);
    expect(nonce).toMatch(/^\d{16,}$/);
    expect(request?.headers['bfx-signature']).toBe(
      sign(SANDBOX_CREDENTIALS.apiSecret, PATHS.complete, nonce, request?.rawBody ?? ''),
    );
    expect(Object.keys(JSON.parse(request?.rawBody ?? '{}') as object).sort()).toEqual(['depositId', 'id', 'payCcy']);
    expect(JSON.parse(request?.rawBody ?? '{}')).toEqual({ id, payCcy: 'ETH', depositId });

    expect(result).toMatchObject({
      providerStatus: 'settled',
      forced: true,
      refs: { bitfinexInvoiceId: id },
    });
    expect(sandbox.invoice(id)).toMatchObject({
      status: 'COMPLETED',
      payment: { forceCompleted: true, depositId, currency: 'ETH', status: 'COMPLETED' },
    });
    // Bitfinex's webhook follows as for a paid invoice, and names the completion as forced.
    const hook = await hookFor(id, 'COMPLETED');
    expect(hook.body).toMatchObject({ payment: { forceCompleted: true, depositId } });
    expect(readBitfinexWebhook(hook.body)).toMatchObject({ ok: true, event: { status: 'settled' } });
  });

  it('a retry finds the invoice completed and does not complete it again', async () => {
    const adapter = createBitfinexAdapter(recorded);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const refs = submitted.refs ?? {};
    const depositId = sandbox.addUnlinkedDeposit('BTC', 0.002);
    const completion = { payCcy: 'BTC', depositId };
    await adapter.forceComplete?.({ ...input, refs, completion });
    const calls = completeCalls().length;
    const again = await adapter.forceComplete?.({ ...input, refs, completion });
    expect(again).toMatchObject({
      providerStatus: 'settled',
      forced: true,
      note: 'already completed by hand at bitfinex',
    });
    expect(completeCalls()).toHaveLength(calls);
    expect(server.get('bitfinex').counter.get('complete', input.invoice.invoiceId)).toBe(1);
  });

  it("an invoice the customer's payment completed is left as it is: not forced", async () => {
    const adapter = createBitfinexAdapter(client);
    const input = stepInput();
    const submitted = await adapter.submit(input);
    const id = submitted.refs?.bitfinexInvoiceId ?? '';
    sandbox.pay(id, 'BTC');
    await hookFor(id, 'COMPLETED');
    const result = await adapter.forceComplete?.({
      ...input,
      refs: submitted.refs ?? {},
      completion: { payCcy: 'BTC', depositId: 1 },
    });
    expect(result).toMatchObject({ providerStatus: 'settled', forced: false });
    expect(server.get('bitfinex').counter.get('complete', input.invoice.invoiceId)).toBe(0);
  });

  it('refuses for good: an expired invoice, a deposit Bitfinex does not hold, a currency the invoice does not take', async () => {
    const adapter = createBitfinexAdapter(client);
    const expired = stepInput();
    const expiredRefs = (await adapter.submit(expired)).refs ?? {};
    await adapter.compensate({ ...expired, refs: expiredRefs, action: 'expire_invoice' });
    const late = await failureOf(
      adapter.forceComplete?.({ ...expired, refs: expiredRefs, completion: { payCcy: 'BTC', depositId: 1 } }),
    );
    expect(late).toMatchObject({ type: 'ProviderRejected', nonRetryable: true });

    const open = stepInput();
    const refs = (await adapter.submit(open)).refs ?? {};
    const unknown = await failureOf(
      adapter.forceComplete?.({ ...open, refs, completion: { payCcy: 'BTC', depositId: 424242 } }),
    );
    expect(unknown).toMatchObject({ type: 'ProviderRejected', nonRetryable: true });
    expect(unknown.message).toMatch(/depositId/);
    const depositId = sandbox.addUnlinkedDeposit('BTC', 0.002);
    const wrongCcy = await failureOf(
      adapter.forceComplete?.({ ...open, refs, completion: { payCcy: 'ETH', depositId } }),
    );
    expect(wrongCcy).toMatchObject({ type: 'ProviderRejected', nonRetryable: true });
    expect(sandbox.invoice(refs.bitfinexInvoiceId ?? '')?.status).toBe('CREATED');
  });
});
