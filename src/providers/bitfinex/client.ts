import type { Config } from '../../config';
import { FAILURE_TYPES, providerRefusal, providerTransient } from '../../errors';
import { classifyStatus, parseJson, retryAfterMs, sendRequest, type HttpResponse } from '../http';
import { sandboxBaseUrl } from '../sandbox/kit';
import { KeyLane, laneFor, sign } from './auth';
import {
  BITFINEX_WEBHOOK_PATH,
  ERROR_CODES,
  PATHS,
  RATE_LIMIT_ERROR,
  SANDBOX_CREDENTIALS,
  type BitfinexPath,
} from './constants';
import {
  ErrorBodySchema,
  InvoiceListSchema,
  InvoicePageSchema,
  InvoiceSchema,
  type BitfinexInvoice,
  type BitfinexInvoicePage,
  type CreateInvoiceBody,
} from './schemas';

const PROVIDER = 'bitfinex';

export interface BitfinexClientOptions {
  /** The host, without `/v2`: https://api.bitfinex.com, or the sandbox's `/bitfinex` base. */
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  timeoutMs: number;
  /** Where Bitfinex posts invoice webhooks (the gateway's route). */
  webhookUrl?: string;
  /** How many pages of 100 invoices to search for an orderId before deciding none exists. */
  lookupPages?: number;
  /** A test's clock (milliseconds): such a client keeps nonces of its own instead of its key's shared ones. */
  clock?: () => number;
}

export function bitfinexOptionsFromConfig(config: Config): BitfinexClientOptions {
  const bitfinex = config.providers.bitfinex;
  return {
    baseUrl: bitfinex.baseUrl ?? sandboxBaseUrl(config, 'bitfinex'),
    apiKey: bitfinex.apiKey ?? SANDBOX_CREDENTIALS.apiKey,
    apiSecret: bitfinex.apiSecret ?? SANDBOX_CREDENTIALS.apiSecret,
    timeoutMs: config.providers.timeoutMs,
    webhookUrl: `${config.gateway.url}${BITFINEX_WEBHOOK_PATH}`,
  };
}

/**
 * Turns a Bitfinex answer that is not a success into a failure. Bitfinex answers most errors with HTTP 500 and an
 * `["error", code, message]` body, so the body decides before the status does: a rate limit is retryable whatever
 * the status; a stale nonce is retryable (the next attempt signs with a newer one); a key or signature refusal and a
 * parameter error are final.
 */
export function classifyBitfinexError(response: HttpResponse, what: string): Error {
  let data: unknown;
  try {
    data = JSON.parse(response.text);
  } catch {
    data = undefined;
  }
  const parsed = ErrorBodySchema.safeParse(data);
  if (!parsed.success) return classifyStatus(PROVIDER, response, `${what}: ${response.text.slice(0, 200)}`);
  const [code, message] = Array.isArray(parsed.data)
    ? [parsed.data[1], parsed.data[2]]
    : [undefined, parsed.data.message ? `${parsed.data.error}: ${parsed.data.message}` : parsed.data.error];
  const text = `${what}: ${message}${code !== undefined ? ` (${code})` : ''}`;
  if (message.includes(RATE_LIMIT_ERROR) || /ratelimit/i.test(message)) {
    return providerTransient(FAILURE_TYPES.rateLimited, `bitfinex rate limit: ${text}`, retryAfterMs(response.headers));
  }
  if (code === ERROR_CODES.nonce || /^nonce/i.test(message)) {
    return providerTransient(FAILURE_TYPES.unavailable, `bitfinex nonce refused: ${text}`);
  }
  if (code === ERROR_CODES.auth || /^apikey/i.test(message)) {
    return providerRefusal(FAILURE_TYPES.authFailed, `bitfinex refused our credentials: ${text}`);
  }
  if (code === ERROR_CODES.params) {
    return providerRefusal(FAILURE_TYPES.providerRejected, `bitfinex refused: ${text}`, { status: response.status });
  }
  return classifyStatus(PROVIDER, response, text);
}

export class BitfinexClient {
  readonly webhookUrl?: string;
  private readonly baseUrl: string;
  /** The key's nonces and send order, shared with every other client of the key in this process. */
  private readonly lane: KeyLane;

  constructor(private readonly options: BitfinexClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/$/, '');
    this.lane = options.clock ? new KeyLane(options.clock) : laneFor(options.apiKey);
    this.webhookUrl = options.webhookUrl;
  }

  static fromConfig(config: Config): BitfinexClient {
    return new BitfinexClient(bitfinexOptionsFromConfig(config));
  }

  async createInvoice(body: CreateInvoiceBody): Promise<BitfinexInvoice> {
    const path = body.customerInfo ? PATHS.create : PATHS.createPos;
    return parseJson(PROVIDER, InvoiceSchema, await this.post(path, body, 'create invoice'), 'create invoice');
  }

  async listInvoices(filter: {
    id?: string;
    start?: number;
    end?: number;
    limit?: number;
  }): Promise<BitfinexInvoice[]> {
    return parseJson(
      PROVIDER,
      InvoiceListSchema,
      await this.post(PATHS.list, filter, 'list invoices'),
      'list invoices',
    );
  }

  async listInvoicesPage(query: {
    page: number;
    pageSize: number;
    sort: 'asc' | 'desc';
    sortField: 't' | 'amount' | 'status';
    status?: string[];
  }): Promise<BitfinexInvoicePage> {
    const text = await this.post(PATHS.listPaginated, query, 'list invoices (paginated)');
    return parseJson(PROVIDER, InvoicePageSchema, text, 'list invoices (paginated)');
  }

  async getInvoice(id: string): Promise<BitfinexInvoice | undefined> {
    const found = await this.listInvoices({ id });
    return found.find((invoice) => invoice.id === id);
  }

  /**
   * Bitfinex has no idempotency key: before creating we look for an invoice carrying our orderId, newest first.
   * A retry comes soon after the attempt that created it, so a few pages reach back far enough.
   */
  async findByOrderId(orderId: string): Promise<BitfinexInvoice | undefined> {
    const pages = this.options.lookupPages ?? 3;
    for (let page = 1; page <= pages; page++) {
      const result = await this.listInvoicesPage({ page, pageSize: 100, sort: 'desc', sortField: 't' });
      const match = result.items.find((invoice) => invoice.orderId === orderId);
      if (match) return match;
      if (page >= result.totalPages) break;
    }
    return undefined;
  }

  async expireInvoice(id: string): Promise<BitfinexInvoice> {
    return parseJson(
      PROVIDER,
      InvoiceSchema,
      await this.post(PATHS.expire, { id }, 'expire invoice'),
      'expire invoice',
    );
  }

  async completeInvoice(body: {
    id: string;
    payCcy: string;
    depositId?: number;
    ledgerId?: number;
  }): Promise<BitfinexInvoice> {
    const text = await this.post(PATHS.complete, body, 'complete invoice');
    return parseJson(PROVIDER, InvoiceSchema, text, 'complete invoice');
  }

  private post(path: BitfinexPath, body: unknown, what: string): Promise<string> {
    return this.lane.run((nonce) => this.postNow(path, body, what, nonce()));
  }

  private async postNow(path: BitfinexPath, body: unknown, what: string, nonce: string): Promise<string> {
    const json = JSON.stringify(body);
    const response = await sendRequest(PROVIDER, {
      method: 'POST',
      url: `${this.baseUrl}/v2/${path}`,
      headers: {
        'content-type': 'application/json',
        'bfx-nonce': nonce,
        'bfx-apikey': this.options.apiKey,
        'bfx-signature': sign(this.options.apiSecret, path, nonce, json),
      },
      body: json,
      timeoutMs: this.options.timeoutMs,
    });
    if (response.status < 200 || response.status >= 300 || isErrorBody(response.text)) {
      throw classifyBitfinexError(response, what);
    }
    return response.text;
  }
}

/** A 200 can still carry `{"error":"ERR_RATE_LIMIT"}` or `["error", ...]`. */
function isErrorBody(text: string): boolean {
  const head = text.trimStart().slice(0, 20);
  return head.startsWith('["error"') || head.startsWith('{"error"');
}
