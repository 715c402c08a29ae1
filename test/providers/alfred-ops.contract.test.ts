import { startSandboxes, type SandboxHandle, type SandboxServer } from '../../src/providers/sandbox/server';
import { createLogger } from '../../src/logger';
import {
  ALFRED_CANCEL,
  ALFRED_PAY_IN_NO_UNDO,
  ALFRED_REFS,
  createAlfredAdapter,
} from '../../src/providers/alfred/adapter';
import { AlfredClient, SANDBOX_CREDENTIALS } from '../../src/providers/alfred/client';
import type { AlfredSandbox, RecordedRequest } from '../../src/providers/alfred/sandbox';
import type { ProviderAdapter, StepInput, StepResult } from '../../src/providers/types';
import { failureOf } from '../support/failures';
import { WebhookReceiver } from '../support/webhook-receiver';
import type { InvoiceRequestInput } from '../../src/domain/invoice';
import { alfredStepInput, runStep } from '../support/alfred';

/** A first attempt: the adapter then sends what it means to, where a retry would first look for an earlier one's work. */
function firstAttempt(overrides: Partial<InvoiceRequestInput> = {}): StepInput {
  return { ...alfredStepInput('alops', overrides), attempt: 1 };
}

const logger = createLogger({ level: 'silent' });
const API = '/third-party-service';
let server: SandboxServer;
let handle: SandboxHandle<AlfredSandbox>;
const receiver = new WebhookReceiver();

beforeAll(async () => {
  receiver.successBody = '{"message":"success"}';
  await receiver.start();
  server = await startSandboxes({ port: 0, logger, webhookBaseUrl: `${receiver.url}/webhooks`, timeScale: 0.01 });
  handle = server.get<AlfredSandbox>('alfred');
});

afterAll(async () => {
  await server.close();
  await receiver.stop();
});

// Quotes live 60 s at the sandbox unless a test shortens them.
beforeEach(() => handle.sandbox.setQuoteTtlMs(6_000_000));

function client(): AlfredClient {
  return new AlfredClient({
    baseUrl: `${server.url}/alfred`,
    apiKey: SANDBOX_CREDENTIALS.apiKey,
    apiSecret: SANDBOX_CREDENTIALS.apiSecret,
    timeoutMs: 2_000,
  });
}

async function upToSubmit(adapter: ProviderAdapter, input: StepInput): Promise<void> {
  await runStep(input, 'kyc', (i) => adapter.kyc?.(i));
  await runStep(input, 'paymentMethod', (i) => adapter.paymentMethod?.(i));
  await runStep(input, 'bank', (i) => adapter.bank?.(i));
}

/** The requests the sandbox received while `run` ran. */
async function recorded(run: () => Promise<unknown>): Promise<RecordedRequest[]> {
  const mark = handle.sandbox.requests.length;
  await run();
  return handle.sandbox.requests.slice(mark);
}

function only(requests: RecordedRequest[], method: string, path: string | RegExp): RecordedRequest {
  const matching = requests.filter(
    (r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)),
  );
  expect(matching).toHaveLength(1);
  return matching[0] as RecordedRequest;
}

function fieldNames(body: unknown): string[] {
  return Object.keys(body as object).sort();
}

/** Key and secret on every call, and no user token on the calls alfred documents with key and secret only. */
function expectServiceHeaders(r: RecordedRequest, withBody: boolean): void {
  expect(r.headers['api-key']).toBe(SANDBOX_CREDENTIALS.apiKey);
  expect(r.headers['api-secret']).toBe(SANDBOX_CREDENTIALS.apiSecret);
  expect(r.headers.accept).toBe('application/json');
  expect(r.headers.authorization).toBeUndefined();
  if (withBody) expect(r.headers['content-type']).toBe('application/json');
}

describe('alfred reports, quote and approval against the sandbox', () => {
  it('Consult Quote: POST penny/quotes with the fiat side fixed; the answer parsed in alfred field names', async () => {
    let quote: Awaited<ReturnType<AlfredClient['quote']>> | undefined;
    const requests = await recorded(async () => {
      quote = await client().quote({
        fromCurrency: 'USDT',
        toCurrency: 'ARS',
        toAmount: '125000.00',
        paymentMethodType: 'BANK',
      });
    });
    const sent = only(requests, 'POST', `${API}/penny/quotes`);
    expectServiceHeaders(sent, true);
    expect(fieldNames(sent.body)).toEqual(['fromCurrency', 'paymentMethodType', 'toAmount', 'toCurrency']);
    const issued = handle.sandbox.quote(quote?.quoteId ?? '');
    expect(issued).toBeDefined();
    expect(quote).toEqual({
      quoteId: issued?.quoteId,
      fromCurrency: 'USDT',
      toCurrency: 'ARS',
      fromAmount: issued?.fromAmount,
      toAmount: '125000.00',
      rate: '1000',
      fees: [{ type: 'commissionFee', amount: '1250.00', currency: 'ARS' }],
      expiration: new Date(issued?.expiresAt ?? 0).toISOString(),
      paymentMethodType: 'BANK',
    });
    // 125,000 ARS plus 1% commission at 1,000 ARS per USDT.
    expect(quote?.fromAmount).toBe('126.250000');
  });

  it('Consult Quote refuses a currency alfred does not quote: final ProviderRejected', async () => {
    const error = await failureOf(client().quote({ fromCurrency: 'USDT', toCurrency: 'XYZ', toAmount: '1.00' }));
    expect(error.type).toBe('ProviderRejected');
    expect(error.message).toMatch(/toCurrency/);
  });

  it("a pay-out: the quote sets my-info's crypto balance, submit's exchangeId and its fiat amount", async () => {
    const adapter = createAlfredAdapter(client());
    const input = firstAttempt({ currency: 'ARS', amount: 12_500_000 });
    const before = await recorded(() => runStep(input, 'kyc', (i) => adapter.kyc?.(i)));
    const quoteCall = only(before, 'POST', `${API}/penny/quotes`);
    expect(quoteCall.body).toEqual({
      fromCurrency: 'USDT',
      toCurrency: 'ARS',
      toAmount: '125000.00',
      paymentMethodType: 'BANK',
    });
    // The amounts the customer is shown: alfred's quote, as alfred wrote it.
    expect(input.refs).toMatchObject({
      [ALFRED_REFS.quoteFiatAmount]: '125000.00',
      [ALFRED_REFS.quoteFiatCurrency]: 'ARS',
      [ALFRED_REFS.quoteCryptoAmount]: '126.250000',
      [ALFRED_REFS.quoteCryptoCurrency]: 'USDT',
      [ALFRED_REFS.quoteRate]: '1000',
      [ALFRED_REFS.quoteFees]: 'commissionFee 1250.00 ARS',
    });
    const myInfo = only(before, 'POST', `${API}/my-info`);
    expectServiceHeaders(myInfo, true);
    // The crypto amount in its own currency, never the fiat amount labelled USDT.
    expect(myInfo.body).toMatchObject({ type: 'out', balance: 126.25, currency: 'USDT' });

    await runStep(input, 'paymentMethod', (i) => adapter.paymentMethod?.(i));
    await runStep(input, 'bank', (i) => adapter.bank?.(i));
    const submitting = await recorded(() => runStep(input, 'submit', (i) => adapter.submit(i)));
    // The quote from KYC still lives: submit uses it without asking again.
    expect(submitting.filter((r) => r.path === `${API}/penny/quotes`)).toHaveLength(0);
    const submit = only(submitting, 'POST', `${API}/submit-transaction`);
    expect(submit.headers.authorization).toMatch(/^eyJ/);
    expect(fieldNames(submit.body)).toEqual([
      'BusinessTo',
      'amount',
      'businessInitTx',
      'exchangeId',
      'reference',
      'typeProcesor',
      'withdrawlPhone',
    ]);
    expect(submit.body).toMatchObject({ exchangeId: input.refs[ALFRED_REFS.quoteId], amount: 125000 });
    expect(handle.sandbox.quote(String(input.refs[ALFRED_REFS.quoteId]))).toBeDefined();
  });

  it('a quote that expired before submit is fetched again, by our clock and when alfred refuses it', async () => {
    const adapter = createAlfredAdapter(client());
    const input = firstAttempt();
    await upToSubmit(adapter, input);
    const first = String(input.refs[ALFRED_REFS.quoteId]);

    // By our clock: the quote's expiration has passed, so submit asks for a new one before it submits.
    const lapsed = { ...input, refs: { ...input.refs, [ALFRED_REFS.quoteExpiresAt]: new Date(0).toISOString() } };
    let result: StepResult | undefined;
    const requests = await recorded(async () => {
      result = await adapter.submit({ ...lapsed, idempotencyKey: `${input.invoice.invoiceId}:submit` });
    });
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST ${API}/penny/quotes`,
      `POST ${API}/submit-transaction`,
    ]);
    const second = String(result?.refs?.[ALFRED_REFS.quoteId]);
    expect(second).not.toBe(first);
    expect(only(requests, 'POST', `${API}/submit-transaction`).body).toMatchObject({ exchangeId: second });

    // By alfred's: the quote lives by our clock but alfred expired it; the refusal brings a new quote and one retry.
    const other = firstAttempt();
    await upToSubmit(adapter, other);
    handle.sandbox.expireQuotes();
    let retried: StepResult | undefined;
    const refused = await recorded(async () => {
      retried = await runStep(other, 'submit', (i) => adapter.submit(i));
    });
    const submits = refused.filter((r) => r.path === `${API}/submit-transaction`);
    expect(submits.map((r) => (r.body as { exchangeId: string }).exchangeId)).toEqual([
      expect.any(String),
      retried?.refs?.[ALFRED_REFS.quoteId],
    ]);
    expect(handle.counter.get('transaction', other.invoice.invoiceId)).toBe(1);
  });

  it('Consult Individual Invoice, Consult All Invoices, Consult Payment Wallet, transactions by user', async () => {
    const adapter = createAlfredAdapter(client());
    const input = firstAttempt();
    await upToSubmit(adapter, input);
    await runStep(input, 'submit', (i) => adapter.submit(i));
    const id = String(input.refs[ALFRED_REFS.invoiceId]);
    const tx = handle.sandbox.findByReference(input.invoice.invoiceId)[0];
    const c = client();

    const one = await recorded(async () => {
      const invoice = await c.getInvoice(id);
      expect(invoice).toMatchObject({
        id,
        estatus_invoice: 'pending',
        expire_invoice: false,
        invoicehash: tx?.invoicehash,
      });
    });
    const getOne = only(one, 'GET', `${API}/invoice/${id}`);
    expectServiceHeaders(getOne, false);
    expect(getOne.body).toBeNull();

    const all = await recorded(async () => {
      const invoices = await c.allInvoices();
      expect(invoices.find((invoice) => invoice.id === id)).toMatchObject({ estatus_invoice: 'pending' });
    });
    expectServiceHeaders(only(all, 'GET', `${API}/invoice`), false);

    const wallet = await recorded(async () => {
      await expect(c.paymentWallet(id)).resolves.toEqual({
        walletpay: tx?.walletpay,
        memo: id.slice(0, 8),
        network: 'polygon',
        chain: 'MATIC',
        balance: '126.250000',
        currency: 'USDT',
      });
    });
    expectServiceHeaders(only(wallet, 'GET', `${API}/payment-wallet/${id}`), false);
    await expect(c.paymentWallet('no-such-invoice')).rejects.toMatchObject({ type: 'ProviderRejected' });

    const byUser = await recorded(async () => {
      const rows = await c.transactionsByUser(input.invoice.customer.email);
      expect(rows).toEqual([
        expect.objectContaining({ invoiceId: id, type: 'out', reference: input.invoice.invoiceId, status: 'pending' }),
      ]);
    });
    expectServiceHeaders(
      only(byUser, 'GET', `${API}/method/user/${encodeURIComponent(input.invoice.customer.email)}`),
      false,
    );
  });

  it("Approval Invoice carries the invoice's invoicehash; without it, or with another, alfred refuses", async () => {
    const adapter = createAlfredAdapter(client());
    const input = firstAttempt();
    await upToSubmit(adapter, input);
    await runStep(input, 'submit', (i) => adapter.submit(i));
    const id = String(input.refs[ALFRED_REFS.invoiceId]);
    const hash = handle.sandbox.findByReference(input.invoice.invoiceId)[0]?.invoicehash;

    const c = client();
    const missing = await failureOf(c.updateInvoice(id, 'approved'));
    expect(missing.type).toBe('ProviderRejected');
    expect(missing.message).toMatch(/invoicehash isNotEmpty/);
    const wrong = await failureOf(c.updateInvoice(id, 'approved', 'not-the-hash'));
    expect(wrong.message).toMatch(/invoicehash/);

    const approving = await recorded(() => runStep(input, 'approveAtProvider', (i) => adapter.approveAtProvider?.(i)));
    const put = only(approving, 'PUT', `${API}/invoice/${id}`);
    expectServiceHeaders(put, true);
    expect(put.body).toEqual({ status: 'approved', invoicehash: hash });
    // The hash is a secret: never in refs.
    expect(JSON.stringify(input.refs)).not.toContain(String(hash));
    // Approved, or already settled: the sandbox settles an approved pay-out on its own clock, which a loaded
    // machine can let run before this read.
    expect(['approved', 'settled']).toContain((await adapter.fetchStatus(input)).status);
  });

  it('a pay-out is undone with Approval Invoice cancel, its invoicehash included', async () => {
    const adapter = createAlfredAdapter(client());
    const input = firstAttempt();
    await upToSubmit(adapter, input);
    const submitted = await runStep(input, 'submit', (i) => adapter.submit(i));
    expect(submitted.compensation).toBe(ALFRED_CANCEL);
    const id = String(input.refs[ALFRED_REFS.invoiceId]);
    const undoing = await recorded(async () => {
      await expect(adapter.compensate({ ...input, action: ALFRED_CANCEL })).resolves.toMatchObject({
        providerStatus: 'cancelled',
      });
    });
    expect(only(undoing, 'PUT', `${API}/invoice/${id}`).body).toEqual({
      status: 'cancel',
      invoicehash: handle.sandbox.findByReference(input.invoice.invoiceId)[0]?.invoicehash,
    });
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({ status: 'cancelled' });
  });

  it('a pay-in registers no Approval Invoice undo: its undo calls nothing and says nothing could be undone', async () => {
    const adapter = createAlfredAdapter(client());
    const input = firstAttempt({ direction: 'pay_in' });
    const kyc = await recorded(() => runStep(input, 'kyc', (i) => adapter.kyc?.(i)));
    expect(only(kyc, 'POST', `${API}/penny/quotes`).body).toEqual({
      fromCurrency: 'USD',
      toCurrency: 'USDT',
      fromAmount: '125.00',
      paymentMethodType: 'BANK',
    });
    expect(only(kyc, 'POST', `${API}/my-info`).body).toMatchObject({ type: 'in', balance: 0, currency: 'USDT' });
    await runStep(input, 'paymentMethod', (i) => adapter.paymentMethod?.(i));
    await runStep(input, 'bank', (i) => adapter.bank?.(i));
    const submitted = await runStep(input, 'submit', (i) => adapter.submit(i));
    expect(submitted).toMatchObject({ providerStatus: 'pending', compensation: ALFRED_PAY_IN_NO_UNDO });
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({
      status: 'pending',
      compensation: ALFRED_PAY_IN_NO_UNDO,
    });

    // Both the new action and the one invoices of the previous release registered: no call reaches alfred.
    for (const action of [ALFRED_PAY_IN_NO_UNDO, ALFRED_CANCEL]) {
      let error: Awaited<ReturnType<typeof failureOf>> | undefined;
      const requests = await recorded(async () => {
        error = await failureOf(adapter.compensate({ ...input, action }));
      });
      expect(requests).toEqual([]);
      expect(error?.type).toBe('CompensationNotDone');
      expect(error?.nonRetryable).toBe(true);
      expect(error?.message).toMatch(/nothing could be undone/);
    }
    // The invoice is alfred's to approve when the customer pays, as the document says.
    await expect(adapter.fetchStatus(input)).resolves.toMatchObject({ status: 'pending' });
    // And Approval Invoice itself refuses a pay-in.
    const put = await failureOf(client().updateInvoice(String(input.refs[ALFRED_REFS.invoiceId]), 'cancel', 'x'));
    expect(put.message).toMatch(/pay-in invoices are approved by alfred/);
  });
});
