/** Credentials the Bitfinex sandbox accepts and the client uses when none are configured. Local-only. */
export const SANDBOX_CREDENTIALS = {
  apiKey: 'bitfinex-sandbox-key',
  apiSecret: 'bitfinex-sandbox-secret',
} as const;

/** Crypto currencies offered when the invoice names none (docs example, minus Lightning). */
export const DEFAULT_PAY_CURRENCIES: readonly string[] = ['BTC', 'ETH', 'UST-ETH'];

/** Bitfinex accepts invoice durations from 300 s to 86400 s. */
export const DURATION_BOUNDS = { min: 300, max: 86_400 } as const;

/** Where the gateway receives Bitfinex webhooks, relative to its base URL. */
export const BITFINEX_WEBHOOK_PATH = '/webhooks/bitfinex';

/**
 * UNCONFIRMED: a flat 90 requests a minute per key for the pay endpoints (docs say 10-90 per IP per endpoint).
 * The sandbox enforces it over a sliding minute; the worker's task-queue rate keeps every worker under it.
 */
export const RATE_LIMIT_PER_MINUTE = 90;

export const PATHS = {
  create: 'auth/w/ext/pay/invoice/create',
  createPos: 'auth/w/ext/pay/invoice/create/pos',
  list: 'auth/r/ext/pay/invoices',
  listPaginated: 'auth/r/ext/pay/invoices/paginated',
  complete: 'auth/w/ext/pay/invoice/complete',
  expire: 'auth/w/ext/pay/invoice/expire',
  depositsUnlinked: 'auth/r/ext/pay/deposits/unlinked',
} as const;
export type BitfinexPath = (typeof PATHS)[keyof typeof PATHS];

/** Bitfinex error codes we act on (the third element of `["error", code, message]`). */
export const ERROR_CODES = { generic: 10001, params: 10020, auth: 10100, nonce: 10114 } as const;
export const RATE_LIMIT_ERROR = 'ERR_RATE_LIMIT';
