// First: the registry must load before a provider's own index (providers/index -> payone -> client -> sandbox/server).
import { startSandboxes, type SandboxHandle, type SandboxServer } from '../../src/providers/sandbox/server';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config';
import { InvoiceRequestSchema } from '../../src/domain/invoice';
import { createLogger } from '../../src/logger';
import { payone } from '../../src/providers/payone';
import { createPayOneAdapter } from '../../src/providers/payone/adapter';
import { PayOneClient, SANDBOX_CREDENTIALS } from '../../src/providers/payone/client';
import type { PayOneSandbox, ReceivedRequest } from '../../src/providers/payone/sandbox';
import type { StepInput } from '../../src/providers/types';
import activateRequest from '../../src/providers/payone/fixtures/activate-request.json';
import activateResponse from '../../src/providers/payone/fixtures/activate-success.json';
import completeRequest from '../../src/providers/payone/fixtures/complete-request.json';
import completeResponse from '../../src/providers/payone/fixtures/complete-success.json';
import { failureOf } from '../support/failures';

/**
 * One test per InvoicesService operation the client calls: the request as the sandbox received it (path, method,
 * headers, field names, checked against the samples of seeds 001 and 004 where they have one) and the answer as the
 * client parsed it. Then the seeds' literal answers through the client, and status words our table lacks.
 */
const silent = createLogger({ level: 'silent' });
let server: SandboxServer;
let handle: SandboxHandle<PayOneSandbox>;
let counter = 0;

beforeAll(async () => {
  server = await startSandboxes({
    port: 0,
    logger: silent,
    webhookBaseUrl: 'http://127.0.0.1:9/webhooks',
    timeScale: 1,
  });
  handle = server.get<PayOneSandbox>('payone');
});
afterAll(() => server.close());
afterEach(() => handle.sandbox.setCreatedInactive(false));

function client(baseUrl = `${server.url}/payone`): PayOneClient {
  return new PayOneClient({
    baseUrl,
    merchantId: SANDBOX_CREDENTIALS.merchantId,
    authToken: SANDBOX_CREDENTIALS.authToken,
    timeoutMs: 2_000,
  });
}

function input(): StepInput {
  const invoice = InvoiceRequestSchema.parse({
    invoiceId: `po_ops_${Date.now()}_${counter++}`,
    provider: 'payone',
    direction: 'pay_in',
    amount: 1250,
    currency: 'JOD',
    description: 'Order 42',
    customer: { id: 'cust-1', firstName: 'Lina', lastName: 'Haddad', email: 'lina@example.com', country: 'JO' },
    approval: { required: true, timeoutSeconds: 3_600 },
  });
  return { invoice, refs: {}, idempotencyKey: `${invoice.invoiceId}:submit` };
}

/** The one request of `op` the sandbox received for this invoice. */
function receivedOnce(op: string, invoiceID: string): ReceivedRequest {
  const found = handle.sandbox.received(invoiceID).filter((request) => request.op === op);
  expect(found).toHaveLength(1);
  return found[0] as ReceivedRequest;
}

/** What every InvoicesService call must look like on the wire: a form POST of one `invoice` field holding JSON. */
function expectWireFormat(request: ReceivedRequest, op: string): void {
  expect(request).toMatchObject({
    op,
    method: 'POST',
    path: `/payone/rest/InvoicesService/${op}`,
    contentType: 'application/x-www-form-urlencoded',
    accept: 'application/json',
    formFields: ['invoice'],
  });
}

const sorted = (names: readonly string[]) => [...names].sort();

/** Created and, when asked, pre-authorized at the sandbox, through the client alone. */
async function createdInvoice(preAuthorized = false) {
  const step = input();
  const invoiceID = step.invoice.invoiceId;
  await client().createPreAuthInvoice({
    invoiceID,
    amount: '1250',
    currency: '400',
    expiryperiod: '1D',
    paymentDescription: 'Order 42',
  });
  if (preAuthorized) handle.sandbox.preAuthorize(invoiceID);
  return { step, invoiceID };
}

describe('PayOne InvoicesService: each operation the client calls, as the sandbox receives it', () => {
  it('createPreAuthInvoice: merchant credentials and one invoicesDetails item with the documented fields', async () => {
    const step = input();
    const created = await client().createPreAuthInvoice({
      invoiceID: step.invoice.invoiceId,
      amount: '1250',
      currency: '400',
      expiryperiod: '1D',
      paymentDescription: 'Order 42',
      customerEmailAddress: 'lina@example.com',
      language: 'en',
    });
    const request = receivedOnce('createPreAuthInvoice', step.invoice.invoiceId);
    expectWireFormat(request, 'createPreAuthInvoice');
    expect(sorted(request.invoiceFields)).toEqual(sorted(Object.keys(completeRequest)));
    expect(sorted(request.detailFields ?? [])).toEqual(
      sorted([
        'invoiceID',
        'amount',
        'currency',
        'expiryperiod',
        'paymentDescription',
        'customerEmailAddress',
        'language',
      ]),
    );
    expect(created).toEqual({
      invoiceID: step.invoice.invoiceId,
      status: 'success',
      statusDescription: 'Invoice created successfully',
      paymentLink: `${server.url}/payone/_sandbox/invoices/${step.invoice.invoiceId}`,
    });
  });

  it("activateInvoice: the fields of seed 004's sample request; its answer is the sentence the sample shows", async () => {
    handle.sandbox.setCreatedInactive(true);
    const { invoiceID } = await createdInvoice();
    const answer = await client().activateInvoice(invoiceID);
    const request = receivedOnce('activateInvoice', invoiceID);
    expectWireFormat(request, 'activateInvoice');
    expect(sorted(request.invoiceFields)).toEqual(sorted(Object.keys(activateRequest)));
    expect(answer).toBe(activateResponse.status);
    expect(handle.sandbox.get(invoiceID)?.status).toBe('active');
  });

  it("completeInvoice: the fields of seed 001's sample request; the answer parsed with its rrn", async () => {
    const { invoiceID } = await createdInvoice(true);
    const completed = await client().completeInvoice({ invoiceID, amount: '1250', currency: '400' });
    const request = receivedOnce('completeInvoice', invoiceID);
    expectWireFormat(request, 'completeInvoice');
    expect(sorted(request.invoiceFields)).toEqual(sorted(Object.keys(completeRequest)));
    expect(sorted(request.detailFields ?? [])).toEqual(sorted(Object.keys(completeRequest.invoicesDetails[0] ?? {})));
    expect(completed).toEqual({
      invoiceID,
      amount: '1250',
      currency: '400',
      status: 'success',
      statusDescription: 'INVOICE COMPLETED SUCCESSFULLY',
      rrn: handle.sandbox.get(invoiceID)?.rrn,
    });
    expect(completed.rrn).toMatch(/^\d{30}$/);
  });

  it('inquireInvoice: merchant credentials and the invoiceID; the answer parsed with status and money', async () => {
    const { invoiceID } = await createdInvoice(true);
    const inquiry = await client().inquireInvoice(invoiceID);
    const request = receivedOnce('inquireInvoice', invoiceID);
    expectWireFormat(request, 'inquireInvoice');
    expect(sorted(request.invoiceFields)).toEqual(sorted(['merchantID', 'authenticationToken', 'invoiceID']));
    expect(inquiry).toMatchObject({
      invoiceID,
      status: 'pre-authorized',
      amount: '1250',
      currency: '400',
      authorizedAmount: '1250',
      approvalCode: handle.sandbox.get(invoiceID)?.approvalCode,
      cardType: 'VISA',
    });
    expect(inquiry.approvalCode).toMatch(/^\d{6}$/);
  });

  it('deactivateInvoice: the same fields as activate; the answer is its status sentence', async () => {
    const { invoiceID } = await createdInvoice();
    const answer = await client().deactivateInvoice(invoiceID);
    const request = receivedOnce('deactivateInvoice', invoiceID);
    expectWireFormat(request, 'deactivateInvoice');
    expect(sorted(request.invoiceFields)).toEqual(sorted(Object.keys(activateRequest)));
    expect(answer).toBe('Invoice is deactivated successfully');
  });

  it("answers the seeds' sample requests in the shape of the seeds' sample answers", async () => {
    const post = async (op: string, body: Record<string, unknown>) => {
      const response = await fetch(`${server.url}/payone/rest/InvoicesService/${op}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ invoice: JSON.stringify(body) }).toString(),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    };
    const credentials = {
      merchantID: SANDBOX_CREDENTIALS.merchantId,
      authenticationToken: SANDBOX_CREDENTIALS.authToken,
    };

    handle.sandbox.setCreatedInactive(true);
    const inactive = await createdInvoice();
    const activated = await post('activateInvoice', {
      ...activateRequest,
      ...credentials,
      invoiceID: inactive.invoiceID,
    });
    expect(sorted(Object.keys(activated))).toEqual(expect.arrayContaining(sorted(Object.keys(activateResponse))));
    expect(activated.status).toBe(activateResponse.status);

    // The sample's amount and currency (1.00 USD) on an invoice pre-authorized for them.
    handle.sandbox.setCreatedInactive(false);
    const step = input();
    await client().createPreAuthInvoice({
      invoiceID: step.invoice.invoiceId,
      amount: '100',
      currency: '840',
      expiryperiod: '1D',
      paymentDescription: 'Order 42',
    });
    handle.sandbox.preAuthorize(step.invoice.invoiceId);
    const sample = completeRequest.invoicesDetails[0];
    const completed = await post('completeInvoice', {
      ...completeRequest,
      ...credentials,
      invoicesDetails: [{ ...sample, invoiceID: step.invoice.invoiceId }],
    });
    expect(Object.keys(completed)).toEqual(expect.arrayContaining(Object.keys(completeResponse)));
    const item = (completed.invoicesDetails as Record<string, unknown>[])[0] ?? {};
    expect(Object.keys(item)).toEqual(expect.arrayContaining(Object.keys(completeResponse.invoicesDetails[0] ?? {})));
    expect(item).toMatchObject({ amount: sample?.amount, currency: sample?.currency, status: 'success' });
  });
});

describe("the seeds' literal answers, through the client and the adapter", () => {
  let stub: Server;
  let stubUrl: string;
  const seen: { url?: string; body: string }[] = [];

  beforeAll(async () => {
    const answers: Record<string, unknown> = {
      '/smartlink/rest/InvoicesService/activateInvoice': activateResponse,
      '/smartlink/rest/InvoicesService/completeInvoice': completeResponse,
    };
    stub = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ url: request.url, body });
        const answer = answers[request.url ?? ''];
        response.writeHead(answer ? 200 : 404, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer ?? { status: 'failed' }));
      });
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/smartlink`;
  });
  afterAll(() => new Promise<void>((resolve) => stub.close(() => resolve())));

  it('seed 004: the activation sentence is read as success', async () => {
    await expect(client(stubUrl).activateInvoice('50142985')).resolves.toBe('Invoice is activated successfully');
    const sent = JSON.parse(new URLSearchParams(seen.at(-1)?.body).get('invoice') ?? '{}') as Record<string, unknown>;
    expect(sent).toEqual({
      ...activateRequest,
      ...{ merchantID: SANDBOX_CREDENTIALS.merchantId, authenticationToken: SANDBOX_CREDENTIALS.authToken },
    });
  });

  it('seed 001: the completion answer settles the invoice and keeps its rrn', async () => {
    const step = input();
    const adapter = createPayOneAdapter(client(stubUrl));
    const result = await adapter.complete?.({ ...step, refs: { payoneInvoiceId: '30231175' } });
    expect(result).toEqual({ providerStatus: 'settled', refs: { payoneRrn: '840201608161029435230000000000' } });
    const sent = JSON.parse(new URLSearchParams(seen.at(-1)?.body).get('invoice') ?? '{}') as Record<string, unknown>;
    expect(sorted(Object.keys(sent))).toEqual(sorted(Object.keys(completeRequest)));
  });
});

describe('a status word the alias table lacks', () => {
  /** A logger whose lines the test reads. */
  function capturingLogger() {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'warn',
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    return { logger, lines };
  }

  it("is no news: fetchStatus returns PayOne's word, logs a warning without personal data, and reads on later", async () => {
    const { logger, lines } = capturingLogger();
    const adapter = createPayOneAdapter(client(), { logger });
    const { step, invoiceID } = await createdInvoice();
    handle.sandbox.preAuthorize(invoiceID);
    handle.sandbox.answerStatusAs(invoiceID, 'ON_HOLD');

    await expect(adapter.fetchStatus(step)).resolves.toEqual({
      status: 'pending',
      unrecognized: 'ON_HOLD',
      compensation: 'deactivate',
      detail: 'payone status "ON_HOLD" (not in the status table)',
    });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 40,
        invoiceId: invoiceID,
        rawStatus: 'ON_HOLD',
        during: 'fetchStatus',
      }),
    ]);
    expect(lines[0]?.msg).toMatch(/missing from its status table \(PAYONE_STATUS_ALIASES\)/);
    const logged = JSON.stringify(lines);
    for (const secret of [SANDBOX_CREDENTIALS.authToken, '411111', 'lina@example.com', 'Haddad']) {
      expect(logged).not.toContain(secret);
    }

    handle.sandbox.answerStatusAs(invoiceID, undefined);
    const known = await adapter.fetchStatus(step);
    expect(known).toMatchObject({ status: 'authorized', detail: 'payone status pre-authorized' });
    expect(known).not.toHaveProperty('unrecognized');
    expect(lines).toHaveLength(1);
  });

  it('is read as configured in PAYONE_STATUS_ALIASES, over the built-in table', async () => {
    const configured = payone.create({
      config: loadConfig({
        NODE_ENV: 'test',
        SANDBOX_PORT: new URL(server.url).port,
        PAYONE_STATUS_ALIASES: '{"on_hold":"pre-authorized"}',
      }),
      logger: silent,
    });
    const { step, invoiceID } = await createdInvoice();
    handle.sandbox.answerStatusAs(invoiceID, 'On_Hold');
    const status = await configured.fetchStatus(step);
    expect(status).toMatchObject({ status: 'authorized', detail: 'payone status On_Hold' });
    expect(status).not.toHaveProperty('unrecognized');
  });

  it('at submit: the invoice counts as created and is not activated blind', async () => {
    handle.sandbox.setCreatedInactive(true);
    const step = input();
    handle.sandbox.answerStatusAs(step.invoice.invoiceId, 'queued');
    const submitted = await createPayOneAdapter(client()).submit(step);
    expect(submitted).toMatchObject({
      refs: { payoneInvoiceId: step.invoice.invoiceId },
      providerStatus: 'pending',
      compensation: 'deactivate',
      note: 'payone status "queued" (not in the status table)',
    });
    expect(handle.sandbox.received(step.invoice.invoiceId).map((request) => request.op)).toEqual([
      'createPreAuthInvoice',
      'inquireInvoice',
    ]);
  });

  it("after a refused completion: the refusal names PayOne's word", async () => {
    const { step, invoiceID } = await createdInvoice();
    handle.sandbox.answerStatusAs(invoiceID, 'settling');
    const error = await failureOf(createPayOneAdapter(client()).complete!({ ...step, refs: {} }));
    expect(error.type).toBe('ProviderRejected');
    expect(error.message).toMatch(/did not complete the invoice: INVOICE IS ACTIVE; it is "settling"/);
  });

  it("before an undo: the deactivation is still tried, and PayOne's answer decides", async () => {
    const { step, invoiceID } = await createdInvoice();
    handle.sandbox.answerStatusAs(invoiceID, 'mystery');
    await expect(createPayOneAdapter(client()).compensate({ ...step, action: 'deactivate' })).resolves.toEqual({
      providerStatus: 'cancelled',
    });
    expect(handle.sandbox.get(invoiceID)?.status).toBe('deactivated');
  });
});

describe('activation, as seed 004 says: only inactive invoices', () => {
  it('refuses to activate a deactivated invoice, which stays deactivated', async () => {
    const { invoiceID } = await createdInvoice();
    await client().deactivateInvoice(invoiceID);
    const answer = await client().activateInvoice(invoiceID);
    expect(answer).toBe('Invoice cannot be activated: it is deactivated; only inactive invoices are activated');
    expect(answer).not.toMatch(/success/i);
    expect(handle.sandbox.get(invoiceID)?.status).toBe('deactivated');
  });

  it('refuses to activate an active or a pre-authorized invoice', async () => {
    const active = await createdInvoice();
    await expect(client().activateInvoice(active.invoiceID)).resolves.toMatch(/it is active; only inactive/);
    const held = await createdInvoice(true);
    await expect(client().activateInvoice(held.invoiceID)).resolves.toMatch(/it is pre-authorized; only inactive/);
    expect(handle.sandbox.get(held.invoiceID)?.status).toBe('pre-authorized');
  });
});
