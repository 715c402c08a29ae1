import type { z } from 'zod';
import { ConfigError, type Config } from '../../config';
import { FAILURE_TYPES, type FailureType } from '../../errors';
import { classifyStatus, parseJson, sendRequest, type HttpResponse } from '../http';
import { sandboxBaseUrl } from '../sandbox/kit';
import {
  ApiKeyAuth,
  SANDBOX_STELLAR,
  SessionTokens,
  STELLAR_NETWORKS,
  StellarWebAuth,
  tokenExpiresAt,
  type AlfredSession,
  type IssuedToken,
  type StellarAuthOptions,
} from './auth';
import type { KycLiteBody } from './mapping';
import {
  AllInvoicesResponseSchema,
  ApprovalResponseSchema,
  InvoiceResponseSchema,
  KycUploadResponseSchema,
  LoginResponseSchema,
  MyInfoResponseSchema,
  PaymentMethodResponseSchema,
  PaymentWalletResponseSchema,
  QuoteResponseSchema,
  SubmitResponseSchema,
  UpdateBankResponseSchema,
  UserTransactionsResponseSchema,
  ValidationErrorSchema,
  type AlfredInvoice,
  type AlfredPaymentWallet,
  type AlfredQuote,
  type AlfredUserTransaction,
  type PaymentMethodData,
  type QuoteRequest,
} from './schemas';

const PROVIDER = 'alfred';

export { tokenExpiry, type AlfredSession } from './auth';

/** What the sandbox accepts and what the client uses when the environment sets none. Never valid at alfred. */
export const SANDBOX_CREDENTIALS = {
  apiKey: 'sandbox-alfred-api-key',
  apiSecret: 'sandbox-alfred-api-secret',
  /** base64, as alfred's dashboard shows shared secrets; the legacy scheme keys with the decoded bytes. */
  webhookSecret: Buffer.from('sandbox-alfred-webhook-secret').toString('base64'),
} as const;

/** The secret a webhook receiver verifies alfred's signatures with. */
export function alfredWebhookSecret(config: Config): string {
  return config.providers.alfred.webhookSecret ?? SANDBOX_CREDENTIALS.webhookSecret;
}

export interface AlfredClientOptions {
  /** Up to and including `/api/v1`; the sandbox's when unset. */
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  timeoutMs: number;
  /** The GitBook shows bare paths, the error page `/third-party-service/...`; the prefix is the default guess. */
  pathPrefix?: string;
  /** UNCONFIRMED whether alfred wants `Bearer `; default: the bare token, as the docs show it. */
  authorizationScheme?: string;
  /** Documented lifetime of the KYC-lite token, used when the token's own `exp` cannot be read. */
  tokenTtlMs?: number;
  /**
   * UNCONFIRMED: payment-method answers a "process token". Default false: later calls keep the KYC-lite token;
   * true makes the process token the session's token from then on.
   */
  processTokenReplacesSession?: boolean;
  /**
   * Name of the extra submit-transaction field carrying our reference. UNCONFIRMED (alfred documents none; default
   * `reference`); undefined sends none.
   */
  referenceField?: string | undefined;
  /**
   * Consult Quote. alfred's newer docs document `POST /third-party-service/penny/quotes`; the GitBook's Penny path is
   * UNCONFIRMED, so the path (after the prefix) is configurable.
   */
  quotePath?: string;
  /** Consult Payment Wallet, `GET <path>/{invoiceId}`. UNCONFIRMED path. */
  paymentWalletPath?: string;
  /** Consult All Invoices, `GET <path>`. UNCONFIRMED; default the collection of the documented `invoice/{id}`. */
  allInvoicesPath?: string;
  now?: () => number;
  /**
   * How a session gets its token. Default `apikey`: KYC lite. `stellar`: a SEP-10 challenge signed with our Stellar
   * account, whose token then stands for KYC lite's on every user call (UNCONFIRMED: alfred's Stellar pages list the
   * same operations; the token they carry is the one Auth (Post) answers).
   */
  auth?: AlfredAuthOptions;
}

export type AlfredAuthOptions =
  | { kind: 'apikey' }
  | ({ kind: 'stellar' } & Pick<
      StellarAuthOptions,
      'secret' | 'serverPublicKey' | 'networkPassphrase' | 'homeDomain' | 'authPath'
    >);

/** submit-transaction refused the quote (`exchangeId`): it expired or alfred forgot it. A fresh quote may pass. */
export class AlfredQuoteRefused extends Error {
  constructor(
    readonly quoteId: string,
    message: string,
  ) {
    super(message);
    this.name = 'AlfredQuoteRefused';
  }
}

export function alfredClientOptions(config: Config): AlfredClientOptions {
  const alfred = config.providers.alfred;
  const auth = alfred.auth;
  const options = {
    baseUrl: alfred.baseUrl ?? sandboxBaseUrl(config, 'alfred'),
    apiKey: alfred.apiKey ?? SANDBOX_CREDENTIALS.apiKey,
    apiSecret: alfred.apiSecret ?? SANDBOX_CREDENTIALS.apiSecret,
    timeoutMs: config.providers.timeoutMs,
  };
  if (auth.kind !== 'stellar') return options;
  if (config.env === 'production' && !(auth.secret && auth.serverKey && auth.network)) {
    // loadConfig refuses this already; a config built by hand must not sign in with the sandbox's published keys.
    throw new ConfigError(['alfred stellar auth: secret, server key and network must be configured in production']);
  }
  return {
    ...options,
    // Only the base differs: the sandbox serves the Stellar variant beside the Penny API.
    baseUrl: alfred.baseUrl ?? `${sandboxBaseUrl(config, 'alfred')}${SANDBOX_STELLAR.basePath}`,
    auth: {
      kind: 'stellar',
      secret: auth.secret ?? SANDBOX_STELLAR.clientSecret,
      serverPublicKey: auth.serverKey ?? SANDBOX_STELLAR.serverPublicKey,
      networkPassphrase: STELLAR_NETWORKS[auth.network ?? 'testnet'],
      ...(auth.homeDomain ? { homeDomain: auth.homeDomain } : {}),
    },
  };
}

type Refusal = FailureType;

/** alfred's Penny API. Every call carries API-Key/API-Secret; user calls also the KYC-lite token. */
export class AlfredClient {
  private readonly tokens: SessionTokens;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(private readonly options: AlfredClientOptions) {
    this.prefix = options.pathPrefix ?? '/third-party-service';
    this.now = options.now ?? Date.now;
    const auth = options.auth ?? { kind: 'apikey' };
    this.tokens = new SessionTokens(
      auth.kind === 'stellar'
        ? new StellarWebAuth({
            ...auth,
            baseUrl: options.baseUrl,
            headers: { 'API-Key': options.apiKey, 'API-Secret': options.apiSecret },
            timeoutMs: options.timeoutMs,
            now: this.now,
            ...(options.tokenTtlMs ? { tokenTtlMs: options.tokenTtlMs } : {}),
          })
        : new ApiKeyAuth((session) => this.kycLite(session)),
      this.now,
    );
  }

  /** How many times a session signed in (KYC lite, or a SEP-10 exchange): tests prove renewal with it. */
  get logins(): number {
    return this.tokens.signIns;
  }

  async myInfo(body: {
    type: 'in' | 'out';
    balance: number;
    currency: string;
    user?: string;
    chain?: string;
  }): Promise<string> {
    const response = await this.send('POST', '/my-info', body);
    return this.read(response, MyInfoResponseSchema, 'my-info', FAILURE_TYPES.kycFailed).data.uuid;
  }

  /**
   * KYC lite: signs the user up or in. Penny API: it is the sign-in, its 2-minute token cached for the session (a
   * sign-in already running for the session is joined). Stellar: a user call under the SEP-10 token.
   */
  async login(session: AlfredSession, body?: KycLiteBody): Promise<{ kyc: boolean }> {
    const given = body ? { ...session, login: () => Promise.resolve(body) } : session;
    if (this.tokens.kind === 'apikey') return { kyc: (await this.tokens.renew(given)).kyc ?? false };
    const payload = await given.login();
    const response = await this.withToken(session, (token) => this.send('POST', '/login-sof-kyc', payload, token));
    return { kyc: this.read(response, LoginResponseSchema, 'login-sof-kyc', FAILURE_TYPES.kycFailed).data.kyc };
  }

  /** The Penny API's sign-in. A 401 here is our key and secret refused: final, unlike a 401 on a user call. */
  private async kycLite(session: AlfredSession): Promise<IssuedToken> {
    const response = await this.send('POST', '/login-sof-kyc', await session.login());
    const { data } = this.read(response, LoginResponseSchema, 'login-sof-kyc', FAILURE_TYPES.kycFailed);
    return { token: data.token, expiresAt: this.expiry(data.token), kyc: data.kyc };
  }

  /** KYC full. The body is UNCONFIRMED: the caller decides it (see the adapter's kycDocuments option). */
  async uploadKycDocument(session: AlfredSession, body: Record<string, unknown>): Promise<void> {
    const response = await this.withToken(session, (token) => this.send('POST', '/kyc/upload-document', body, token));
    this.read(response, KycUploadResponseSchema, 'kyc/upload-document', FAILURE_TYPES.kycFailed);
  }

  async paymentMethod(session: AlfredSession, body: Record<string, unknown>): Promise<PaymentMethodData> {
    const response = await this.withToken(session, (token) => this.send('POST', '/payment-method', body, token));
    const { data } = this.read(response, PaymentMethodResponseSchema, 'payment-method');
    if (this.options.processTokenReplacesSession) this.remember(session.key, data.token);
    return data;
  }

  async updateBank(
    session: AlfredSession,
    body: {
      bankName: string;
      bankNumber: string;
      bankAccountOwner: string;
      countryCode: string;
      DNI: string;
      id?: string;
    },
  ): Promise<{ id: string }> {
    const response = await this.withToken(session, (token) => this.send('POST', '/update-bank', body, token));
    return { id: this.read(response, UpdateBankResponseSchema, 'update-bank').data.data.id };
  }

  async submitTransaction(
    session: AlfredSession,
    body: {
      withdrawlPhone: string;
      businessInitTx: string;
      BusinessTo: string;
      exchangeId: string;
      amount: number;
      typeProcesor: 'BANK' | 'ATM';
    },
    reference: string,
  ): Promise<{ transactionId: string; invoiceId: string }> {
    const field = 'referenceField' in this.options ? this.options.referenceField : 'reference';
    const payload = field ? { ...body, [field]: reference } : body;
    const response = await this.withToken(session, (token) => this.send('POST', '/submit-transaction', payload, token));
    if (response.status === 422 && refusesField(response.text, 'exchangeId')) {
      throw new AlfredQuoteRefused(body.exchangeId, `submit-transaction: ${describeError(response.text)}`);
    }
    const { data } = this.read(response, SubmitResponseSchema, 'submit-transaction');
    return { transactionId: data.id, invoiceId: data.invoice.id };
  }

  /**
   * Approval Invoice: approve or cancel a pay-out; key and secret only, no user token. The document allows it for
   * pay-outs only (a pay-in is approved by alfred). `invoicehash` authenticates the operation; sent when known.
   */
  async updateInvoice(invoiceId: string, status: 'approved' | 'cancel', invoicehash?: string): Promise<void> {
    const body = invoicehash === undefined ? { status } : { status, invoicehash };
    const response = await this.send('PUT', `/invoice/${encodeURIComponent(invoiceId)}`, body);
    this.read(response, ApprovalResponseSchema, `invoice ${status}`);
  }

  /** Consult Quote: the exchange that submit-transaction's `exchangeId` names, with its amounts, fees and expiry. */
  async quote(body: QuoteRequest): Promise<AlfredQuote> {
    const response = await this.send('POST', this.options.quotePath ?? '/penny/quotes', body);
    return this.read(response, QuoteResponseSchema, 'quote');
  }

  /** Consult Payment Wallet: where an invoice's crypto side is paid. */
  async paymentWallet(invoiceId: string): Promise<AlfredPaymentWallet> {
    const path = this.options.paymentWalletPath ?? '/payment-wallet';
    const response = await this.send('GET', `${path}/${encodeURIComponent(invoiceId)}`);
    return this.read(response, PaymentWalletResponseSchema, 'payment-wallet').data;
  }

  /** Consult All Invoices of our API key. */
  async allInvoices(): Promise<AlfredInvoice[]> {
    const response = await this.send('GET', this.options.allInvoicesPath ?? '/invoice');
    return this.read(response, AllInvoicesResponseSchema, 'invoices').data;
  }

  async getInvoice(invoiceId: string): Promise<AlfredInvoice> {
    const response = await this.send('GET', `/invoice/${encodeURIComponent(invoiceId)}`);
    return this.read(response, InvoiceResponseSchema, 'invoice').data;
  }

  async transactionsByUser(user: string): Promise<AlfredUserTransaction[]> {
    const response = await this.send('GET', `/method/user/${encodeURIComponent(user)}`);
    return this.read(response, UserTransactionsResponseSchema, 'method/user').data;
  }

  /** Forgets a session's token (tests; or a customer whose data changed). */
  forget(sessionKey: string): void {
    this.tokens.forget(sessionKey);
  }

  private expiry(token: string): number {
    return tokenExpiresAt(token, this.now(), this.options.tokenTtlMs);
  }

  /** A token from another answer (the process token). Stellar sessions keep their SEP-10 token. */
  private remember(key: string, token: string): void {
    if (this.tokens.kind === 'apikey') this.tokens.store(key, token, this.expiry(token));
  }

  /** Single-flight renewal on expiry and on 401; an expired token is retried, never a failed invoice. */
  private withToken(session: AlfredSession, call: (token: string) => Promise<HttpResponse>): Promise<HttpResponse> {
    return this.tokens.withToken(session, call);
  }

  private async send(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'API-Key': this.options.apiKey,
      'API-Secret': this.options.apiSecret,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) {
      const scheme = this.options.authorizationScheme;
      headers.Authorization = scheme ? `${scheme} ${token}` : token;
    }
    return sendRequest(PROVIDER, {
      method,
      url: `${this.options.baseUrl.replace(/\/$/, '')}${this.prefix}${path}`,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: this.options.timeoutMs,
    });
  }

  private read<S extends z.ZodType>(
    response: HttpResponse,
    schema: S,
    what: string,
    refusal: Refusal = FAILURE_TYPES.providerRejected,
  ): z.output<S> {
    if (response.status < 200 || response.status >= 300) throw this.refusal(response, what, refusal);
    return parseJson(PROVIDER, schema, response.text, what);
  }

  private refusal(response: HttpResponse, what: string, refusal: Refusal = FAILURE_TYPES.providerRejected): Error {
    return classifyStatus(PROVIDER, response, `${what}: ${describeError(response.text)}`, refusal);
  }
}

/** alfred's words from an error body, never the whole body (it may echo what we sent). */
function describeError(text: string): string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return text.slice(0, 200);
  }
  const parsed = ValidationErrorSchema.safeParse(data);
  if (!parsed.success) return 'unreadable error body';
  const reasons = (parsed.data.reasons ?? [])
    .map((reason) => [reason.path, reason.validation].filter(Boolean).join(' '))
    .filter(Boolean);
  const head = [parsed.data.code, parsed.data.message].filter(Boolean).join(' ');
  return reasons.length ? `${head} (${reasons.join(', ')})` : head || 'no message';
}

/** Whether a 422 body names `field` among its reasons. */
function refusesField(text: string, field: string): boolean {
  try {
    const parsed = ValidationErrorSchema.safeParse(JSON.parse(text));
    return parsed.success && (parsed.data.reasons ?? []).some((reason) => reason.path === field);
  } catch {
    return false;
  }
}
