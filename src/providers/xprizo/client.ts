import type { Config } from '../../config';
import { FAILURE_TYPES, providerRefusal } from '../../errors';
import { classifyStatus, parseJson, sendRequest, type HttpResponse } from '../http';
import { sandboxBaseUrl } from '../sandbox/kit';
import {
  DEFAULT_XPRIZO_ENDPOINTS,
  SANDBOX_CREDENTIALS,
  XPRIZO_API_VERSION,
  type XprizoEndpoint,
  type XprizoEndpoints,
  type XprizoWebhookUrlForm,
} from './constants';
import { isDuplicateReference, isInsufficientFunds } from './mapping';
import {
  ErrorBodySchema,
  RequestPaymentResponseSchema,
  SendPaymentResponseSchema,
  StatusByReferenceResponseSchema,
  type StatusByReferenceResponse,
  type TransferBody,
} from './schemas';

const PROVIDER = 'xprizo';

export interface XprizoClientOptions {
  /** Up to and including `/api` on the real service, e.g. https://test.xprizo.com/api. */
  baseUrl: string;
  apiKey: string;
  merchantAccountId: string;
  timeoutMs: number;
  endpoints?: Partial<XprizoEndpoints>;
  /** How SetApprovalWebhook / SetPaymentWebhook carry the URL; default `query`. */
  webhookUrlForm?: XprizoWebhookUrlForm;
}

/** SendPayment's `action` query value. */
export const SEND_ACTIONS = { pending: undefined, commit: 1, hold: 2 } as const;
export type SendAction = (typeof SEND_ACTIONS)[keyof typeof SEND_ACTIONS];

export interface CreatedTransaction {
  key?: string;
  /** ISO date after which a payment request times out (RequestPayment only). */
  expiryDate?: string;
  /** True when Xprizo already had a transaction with this reference: an earlier attempt of ours created it. */
  existing: boolean;
  status?: StatusByReferenceResponse;
}

export function xprizoOptionsFromConfig(config: Config): XprizoClientOptions {
  const xprizo = config.providers.xprizo;
  return {
    baseUrl: xprizo.baseUrl ?? sandboxBaseUrl(config, 'xprizo'),
    apiKey: xprizo.apiKey ?? SANDBOX_CREDENTIALS.apiKey,
    merchantAccountId: xprizo.merchantAccountId ?? SANDBOX_CREDENTIALS.merchantAccountId,
    timeoutMs: config.providers.timeoutMs,
    webhookUrlForm: xprizo.webhookUrlForm,
  };
}

/** Reads an Xprizo error body (text, JSON string, ErrorModel or ProblemDetails) into one line. */
export function errorMessage(text: string): string {
  let data: unknown = text;
  try {
    data = JSON.parse(text);
  } catch {
    // Plain text is the common case for Xprizo's 400s.
  }
  const parsed = ErrorBodySchema.safeParse(data);
  if (!parsed.success) return text.slice(0, 300);
  if (typeof parsed.data === 'string') return parsed.data.slice(0, 300);
  const body = parsed.data;
  return (body.message ?? body.detail ?? body.title ?? body.error ?? text).slice(0, 300);
}

export class XprizoClient {
  readonly merchantAccountId: string;
  private readonly baseUrl: string;
  private readonly endpoints: XprizoEndpoints;

  constructor(private readonly options: XprizoClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.merchantAccountId = options.merchantAccountId;
    this.endpoints = { ...DEFAULT_XPRIZO_ENDPOINTS, ...options.endpoints };
  }

  static fromConfig(config: Config): XprizoClient {
    return new XprizoClient(xprizoOptionsFromConfig(config));
  }

  /** Pay-in: asks the customer's wallet to pay the merchant. A duplicate reference resolves to the existing one. */
  async requestPayment(body: TransferBody): Promise<CreatedTransaction> {
    const response = await this.send('POST', '/Transaction/RequestPayment', body);
    if (isOk(response)) {
      const created = parseJson(PROVIDER, RequestPaymentResponseSchema, response.text, 'RequestPayment');
      return { key: created.key, expiryDate: created.expiryDate ?? undefined, existing: false };
    }
    return this.existingOrThrow(response, body.reference, 'RequestPayment');
  }

  /** Pay-out. With `hold` (2) a 200 leaves the payment held until our answer to Xprizo's payment callback. */
  async sendPayment(body: TransferBody, action: SendAction): Promise<CreatedTransaction> {
    const query = action === undefined ? '' : `?action=${action}`;
    const response = await this.send('POST', `/Transaction/SendPayment${query}`, body);
    if (isOk(response)) {
      const created = parseJson(PROVIDER, SendPaymentResponseSchema, response.text, 'SendPayment');
      return { key: created.key, existing: false };
    }
    return this.existingOrThrow(response, body.reference, 'SendPayment');
  }

  async approvalAccept(key: string): Promise<void> {
    await this.call(this.endpoints.approvalAccept, { key }, 'ApprovalAccept');
  }

  async approvalCancel(key: string): Promise<void> {
    await this.call(this.endpoints.approvalCancel, { key }, 'ApprovalCancel');
  }

  async voidHold(key: string): Promise<void> {
    await this.call(this.endpoints.voidHold, { key }, 'void hold');
  }

  async statusByReference(reference: string): Promise<StatusByReferenceResponse> {
    const response = await this.call(
      this.endpoints.statusByReference,
      { reference, accountId: this.merchantAccountId },
      'StatusByReference',
    );
    return parseJson(PROVIDER, StatusByReferenceResponseSchema, bareWordAsJson(response.text), 'StatusByReference');
  }

  /** Registers the URL Xprizo POSTs approval webhooks to. Setting the same URL again changes nothing. */
  async setApprovalWebhook(url: string): Promise<void> {
    await this.setWebhook('SetApprovalWebhook', url);
  }

  /** UNCONFIRMED beyond seed 002's path form: assumed to take the URL as SetApprovalWebhook does. */
  async setPaymentWebhook(url: string): Promise<void> {
    await this.setWebhook('SetPaymentWebhook', url);
  }

  private async setWebhook(operation: 'SetApprovalWebhook' | 'SetPaymentWebhook', url: string): Promise<void> {
    const encoded = encodeURIComponent(url);
    const path =
      this.options.webhookUrlForm === 'path'
        ? `/Preference/${operation}/${encoded}`
        : `/Preference/${operation}?url=${encoded}`;
    this.ensureOk(await this.send('PUT', path), operation);
  }

  private async existingOrThrow(response: HttpResponse, reference: string, what: string): Promise<CreatedTransaction> {
    const message = errorMessage(response.text);
    if (response.status !== 400 || !isDuplicateReference(message)) throw this.failure(response, what);
    // Our earlier attempt created it (the reference is the invoice's): adopt it rather than fail the retry.
    const status = await this.statusByReference(reference);
    if (status.status === 'NotFound' || status.status === 'Void') {
      throw providerRefusal(
        FAILURE_TYPES.providerRejected,
        `xprizo ${what}: reference ${reference} was used by a transaction that no longer exists (${status.status})`,
      );
    }
    const key = 'key' in status ? (status.key ?? status.transactionId ?? undefined) : undefined;
    return { key: key ?? undefined, existing: true, status };
  }

  private async call(endpoint: XprizoEndpoint, params: Record<string, string>, what: string): Promise<HttpResponse> {
    const path = endpoint.path.replace(/\{(\w+)\}/g, (_match, name: string) => encodeURIComponent(params[name] ?? ''));
    return this.ensureOk(await this.send(endpoint.method, path), what);
  }

  private ensureOk(response: HttpResponse, what: string): HttpResponse {
    if (!isOk(response)) throw this.failure(response, what);
    return response;
  }

  private failure(response: HttpResponse, what: string): Error {
    const message = errorMessage(response.text);
    return classifyStatus(
      PROVIDER,
      response,
      `${what}: ${message}`,
      isInsufficientFunds(message) ? FAILURE_TYPES.insufficientFunds : FAILURE_TYPES.providerRejected,
    );
  }

  private send(method: XprizoEndpoint['method'], path: string, body?: unknown): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      'x-api-key': this.options.apiKey,
      'x-api-version': XPRIZO_API_VERSION,
      accept: `text/plain; x-api-version=${XPRIZO_API_VERSION}`,
    };
    if (body !== undefined) headers['content-type'] = `application/json; x-api-version=${XPRIZO_API_VERSION}`;
    return sendRequest(PROVIDER, {
      method,
      url: `${this.baseUrl}${path}`,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: this.options.timeoutMs,
    });
  }
}

function isOk(response: HttpResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/** `Accept: text/plain` may give a bare word (Active); parseJson wants JSON, so it is quoted first. */
function bareWordAsJson(text: string): string {
  const trimmed = text.trim();
  return /^[A-Za-z]+$/.test(trimmed) ? JSON.stringify(trimmed) : trimmed;
}
