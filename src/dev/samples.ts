import type { Direction, InvoiceStatus, ProviderName } from '../domain/constants';
import type { InvoiceRequestInput } from '../domain/invoice';
import { tenantInvoiceKey, type InvoiceState } from '../workflows/definitions';

/** A service talking to the gateway over HTTP, and a customer acting in the provider sandboxes: the public paths only. */
export interface PublicApi {
  gatewayUrl: string;
  /** The service's key: it creates and reads invoices. */
  apiKey: string;
  /** A second principal's key for approvals: the creator of an invoice may never approve it. */
  approverKey?: string;
  /** The keys' tenant: providers see its invoices as `<tenant>_<invoiceId>`. */
  tenant?: string;
  sandboxUrl: string;
}

export interface SampleOptions {
  invoiceId: string;
  provider: ProviderName;
  direction: Direction;
  amount?: number;
  currency?: InvoiceRequestInput['currency'];
  approvalRequired?: boolean;
  /** How long the invoice may wait for its decision (and PayOne keeps its link open); an hour unless set. */
  approvalTimeoutSeconds?: number;
}

/** The deciding party the benchmark's direct Temporal approvals name. */
export const APPROVER = 'ops@example.com';

/** A customer every provider accepts (alfred's KYC needs the address, phone and birthday). */
export const SAMPLE_CUSTOMER: InvoiceRequestInput['customer'] = {
  id: 'cus_42',
  firstName: 'Ada',
  lastName: 'Lovelace',
  email: 'ada@example.com',
  country: 'AR',
  phone: '+5491100000000',
  address: { street: 'Av. Corrientes 1234', city: 'Buenos Aires', zip: 'C1043' },
  birthday: '1990-12-10',
  nationality: 'AR',
};

export const SAMPLE_BANK: NonNullable<InvoiceRequestInput['bank']> = {
  bankName: 'Banco Nacion',
  accountNumber: '0110599520000001234567',
  accountOwner: 'Ada Lovelace',
  country: 'AR',
  nationalId: '30123456',
};

/** The payment method each provider can work with: Xprizo pays between wallets, Bitfinex Pay in crypto. */
export function samplePaymentMethod(provider: ProviderName): NonNullable<InvoiceRequestInput['paymentMethod']> {
  switch (provider) {
    case 'xprizo':
      return { type: 'wallet', walletAccountId: '2001' };
    case 'bitfinex':
      return { type: 'crypto', payCurrencies: ['BTC', 'ETH'] };
    default:
      return { type: 'bank' };
  }
}

/** One provider-complete request: every provider finds the fields it needs. */
export function sampleRequest(options: SampleOptions): InvoiceRequestInput {
  const payone = options.provider === 'payone';
  return {
    invoiceId: options.invoiceId,
    provider: options.provider,
    direction: options.direction,
    amount: options.amount ?? 12500,
    currency: options.currency ?? (payone ? 'JOD' : 'USD'),
    description: `sample ${options.direction} via ${options.provider}`,
    customer: SAMPLE_CUSTOMER,
    paymentMethod: samplePaymentMethod(options.provider),
    bank: SAMPLE_BANK,
    // PayOne captures a pre-authorization only when the service says so; the others run straight through, unless the
    // tenant's policy holds pay-outs for an approval.
    approval: {
      required:
        options.approvalRequired ?? (payone || (options.provider === 'alfred' && options.direction === 'pay_out')),
      approvers: [],
      timeoutSeconds: options.approvalTimeoutSeconds ?? 3600,
    },
    settlementTimeoutSeconds: 3600,
  };
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${JSON.stringify(body)}`);
  }
}

export async function callJson(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new HttpError(response.status, parsed, `${method} ${url}`);
  return parsed;
}

export function gatewayClient(api: PublicApi) {
  const auth = { authorization: `Bearer ${api.apiKey}` };
  return {
    create: (request: InvoiceRequestInput) =>
      callJson('POST', `${api.gatewayUrl}/v1/invoices`, request, auth) as Promise<InvoiceState>,
    get: (invoiceId: string) =>
      callJson('GET', `${api.gatewayUrl}/v1/invoices/${invoiceId}`, undefined, auth) as Promise<InvoiceState>,
    /** As the approver when one is configured: the deciding party is whoever holds the key. */
    decide: (invoiceId: string, decision: 'approve' | 'reject' | 'cancel', reason?: string) =>
      callJson(
        'POST',
        `${api.gatewayUrl}/v1/invoices/${invoiceId}/${decision}`,
        { reason },
        { authorization: `Bearer ${api.approverKey ?? api.apiKey}` },
      ) as Promise<InvoiceState>,
  };
}

/** What the customer does at each provider, through the sandbox's customer routes. */
export function sandboxCustomer(api: PublicApi) {
  const post = (path: string, body: unknown = {}) => callJson('POST', `${api.sandboxUrl}${path}`, body);
  return {
    payAlfred: (alfredInvoiceId: string) => post(`/alfred/_sandbox/invoices/${alfredInvoiceId}/pay`),
    preAuthorizePayOne: (invoiceId: string) =>
      post(`/payone/_sandbox/invoices/${tenantInvoiceKey(api.tenant, invoiceId)}/preauthorize`),
    acceptXprizoRequest: (invoiceId: string) =>
      post(`/xprizo/_sandbox/requests/${tenantInvoiceKey(api.tenant, invoiceId)}/accept`),
    payBitfinex: (bitfinexInvoiceId: string) => post(`/bitfinex/_sandbox/invoices/${bitfinexInvoiceId}/pay`),
  };
}

/** Calls again after a 503 (Temporal busy or away, the answer unknown) until `timeoutMs` has passed, as a service should. */
export async function whileUnavailable<T>(
  call: () => Promise<T>,
  timeoutMs: number,
  options: { alsoConnectionErrors?: boolean } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const unavailable = error instanceof HttpError && error.status === 503;
      // fetch's own failure: no answer came (a keep-alive connection the gateway closed, a gateway restarting).
      const noAnswer =
        options.alsoConnectionErrors === true && error instanceof TypeError && error.message === 'fetch failed';
      if (!((unavailable || noAnswer) && Date.now() < deadline)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export async function waitUntil(
  api: PublicApi,
  invoiceId: string,
  done: (state: InvoiceState) => boolean,
  timeoutMs = 60_000,
): Promise<InvoiceState> {
  const gateway = gatewayClient(api);
  const deadline = Date.now() + timeoutMs;
  // A 503 means "Temporal is busy or away, try again": a patient service does exactly that.
  // A read is safe to repeat, so one that got no answer at all is tried again too.
  const read = () =>
    whileUnavailable(() => gateway.get(invoiceId), deadline - Date.now(), { alsoConnectionErrors: true });
  let state = await read();
  while (!done(state)) {
    if (Date.now() > deadline) {
      throw new Error(`invoice ${invoiceId} stuck in ${state.status}: ${JSON.stringify(state.lastError ?? {})}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    state = await read();
  }
  return state;
}

const FINAL: readonly InvoiceStatus[] = ['COMPLETED', 'CANCELLED', 'REJECTED', 'EXPIRED', 'FAILED'];

/**
 * Drives one invoice to its end through the gateway as a service would, acting as the customer in the sandbox where
 * the provider waits for one. Every provider webhook flows sandbox → gateway → workflow on its own.
 */
export async function driveSample(api: PublicApi, options: SampleOptions, timeoutMs = 60_000): Promise<InvoiceState> {
  const gateway = gatewayClient(api);
  const customer = sandboxCustomer(api);
  const request = sampleRequest(options);
  await gateway.create(request);
  const id = request.invoiceId;
  const at =
    (...statuses: InvoiceStatus[]) =>
    (s: InvoiceState) =>
      statuses.includes(s.status) || FINAL.includes(s.status);

  switch (options.provider) {
    case 'alfred': {
      if (options.direction === 'pay_in') {
        const state = await waitUntil(api, id, at('AWAITING_SETTLEMENT'), timeoutMs);
        const alfredInvoiceId = state.providerRefs.alfredInvoiceId;
        if (alfredInvoiceId) await customer.payAlfred(alfredInvoiceId);
      }
      break;
    }
    case 'payone': {
      await waitUntil(api, id, at('SUBMITTED', 'AWAITING_APPROVAL'), timeoutMs);
      await customer.preAuthorizePayOne(id);
      break;
    }
    case 'xprizo': {
      if (options.direction === 'pay_in') {
        await waitUntil(api, id, at('AWAITING_SETTLEMENT'), timeoutMs);
        await customer.acceptXprizoRequest(id);
      }
      break;
    }
    case 'bitfinex': {
      const state = await waitUntil(api, id, at('AWAITING_SETTLEMENT'), timeoutMs);
      const bitfinexInvoiceId = state.providerRefs.bitfinexInvoiceId;
      if (bitfinexInvoiceId) await customer.payBitfinex(bitfinexInvoiceId);
      break;
    }
  }
  if (sampleRequest(options).approval?.required || options.direction === 'pay_out') {
    const state = await waitUntil(api, id, at('AWAITING_APPROVAL'), timeoutMs);
    // An approval the gateway could not confirm in time (503) is sent again: approving twice is approving once.
    if (state.status === 'AWAITING_APPROVAL') await whileUnavailable(() => gateway.decide(id, 'approve'), timeoutMs);
  }
  return waitUntil(api, id, (s) => FINAL.includes(s.status), timeoutMs);
}

/** One sample per provider and direction it supports. */
export const SAMPLES: readonly Omit<SampleOptions, 'invoiceId'>[] = [
  { provider: 'alfred', direction: 'pay_in' },
  { provider: 'alfred', direction: 'pay_out' },
  { provider: 'payone', direction: 'pay_in' },
  { provider: 'xprizo', direction: 'pay_in' },
  { provider: 'xprizo', direction: 'pay_out' },
  { provider: 'bitfinex', direction: 'pay_in' },
];
