/**
 * Credentials the Xprizo sandbox accepts and the client uses when none are configured. Not secrets: they only open
 * the local sandbox.
 */
export const SANDBOX_CREDENTIALS = {
  apiKey: 'xprizo-sandbox-key',
  /** The merchant wallet our payments go to (pay-in) and come from (pay-out). */
  merchantAccountId: '1000',
} as const;

export const XPRIZO_API_VERSION = '1.0';

/** The gateway's two Xprizo routes, after `/webhooks/xprizo/<token>`. */
export const XPRIZO_WEBHOOK_ROUTES = { approval: '/approval', payment: '/payment' } as const;
export type XprizoWebhook = keyof typeof XPRIZO_WEBHOOK_ROUTES;

/** Where an Xprizo webhook goes relative to the gateway's webhook base: `/xprizo/<token>/approval`. */
export function xprizoWebhookPath(token: string, which: XprizoWebhook): string {
  return `/xprizo/${encodeURIComponent(token)}${XPRIZO_WEBHOOK_ROUTES[which]}`;
}

export interface XprizoEndpoint {
  method: 'GET' | 'POST' | 'PUT';
  /** `{key}`, `{reference}` and `{accountId}` are replaced (URL-encoded) when the call is made. */
  path: string;
}

/**
 * Paths whose shape the public docs leave open. The defaults follow the generated Xprizo SDK (GET with `?key=` for
 * approvals; `StatusByReference/{accountId}?reference=`). Every one is UNCONFIRMED against the live API, so a
 * deployment can override them without touching the client.
 */
export interface XprizoEndpoints {
  approvalAccept: XprizoEndpoint;
  approvalCancel: XprizoEndpoint;
  statusByReference: XprizoEndpoint;
  /**
   * How a held pay-out is voided without answering its callback. UNCONFIRMED: the docs only describe voiding by a
   * negative callback answer; the default guess is ApprovalCancel on the transaction key.
   */
  voidHold: XprizoEndpoint;
}

export const DEFAULT_XPRIZO_ENDPOINTS: XprizoEndpoints = {
  approvalAccept: { method: 'GET', path: '/Transaction/ApprovalAccept?key={key}' },
  approvalCancel: { method: 'GET', path: '/Transaction/ApprovalCancel?key={key}' },
  statusByReference: { method: 'GET', path: '/Transaction/StatusByReference/{accountId}?reference={reference}' },
  voidHold: { method: 'GET', path: '/Transaction/ApprovalCancel?key={key}' },
};

/** Xprizo's own error texts; the client recognises them by these fragments, case-insensitively. */
export const XPRIZO_MESSAGES = {
  duplicateReference: 'A transaction with this reference already exists',
  duplicatePendingReference: 'A pending transaction with this reference already exists',
  insufficientFunds: 'Insufficient funds',
} as const;

/** Where SetApprovalWebhook / SetPaymentWebhook take our URL: `?url=` (current docs) or a path segment (seed 002). */
export const XPRIZO_WEBHOOK_URL_FORMS = ['query', 'path'] as const;
export type XprizoWebhookUrlForm = (typeof XPRIZO_WEBHOOK_URL_FORMS)[number];

/** Xprizo voids a held pay-out whose payment callback has had no 200 for 24 h (documented). */
export const XPRIZO_HOLD_VOID_SECONDS = 24 * 3600;

/**
 * The longest a held pay-out may wait for its approval. Our "accept" reaches Xprizo only as the answer to a re-sent
 * payment callback, whose schedule is undocumented, so the deadline ends two hours before the void rather than at it:
 * an approval given at the last minute must still find a callback to answer.
 */
export const XPRIZO_HELD_APPROVAL_CAP_SECONDS = XPRIZO_HOLD_VOID_SECONDS - 2 * 3600;
