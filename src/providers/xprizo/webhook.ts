import type { ProviderEvent } from '../../workflows/definitions';
import type { XprizoClient } from './client';
import { approvalStatusToProviderStatus, sameAmount } from './mapping';
import {
  ApprovalWebhookSchema,
  PaymentCallbackSchema,
  type ApprovalWebhook,
  type PaymentCallback,
  type StatusByReferenceResponse,
  type XprizoTransactionStatus,
} from './schemas';

/**
 * Xprizo documents no webhook signature. We trust a webhook only when (1) an `x-api-key` header, if Xprizo sent
 * one, equals the key we expect, and (2) StatusByReference agrees with it. The reference is our invoiceId, so an
 * accepted event names its invoice directly.
 */
export type XprizoVerification =
  | { ok: true; event: ProviderEvent; invoiceId: string; ignore?: false }
  /** A test webhook (statusType 0): answer 200 and do nothing. */
  | { ok: true; ignore: true; reason: string }
  | { ok: false; reason: string };

export interface XprizoVerifyOptions {
  /** The key Xprizo presents when it calls us; unset means the header is not checked. */
  expectedApiKey?: string;
  /**
   * A webhook without a reference (Rejected may carry only nulls; the docs' Accepted sample has reference null) can
   * be matched only through a transaction id we stored. The gateway may pass a lookup (e.g. a search attribute on
   * refs.xprizoTransactionKey); without one such a webhook is `unmatchable` and the invoice learns the outcome by
   * polling StatusByReference.
   */
  referenceForTransactionId?: (transactionId: string) => Promise<string | undefined>;
}

type Headers = Record<string, string | string[] | undefined>;

/** Refuses a webhook whose `x-api-key` contradicts the expected one. Pure. */
export function checkSenderKey(headers: Headers, expectedApiKey: string | undefined): string | undefined {
  if (!expectedApiKey) return undefined;
  const raw = headers['x-api-key'];
  const presented = Array.isArray(raw) ? raw[0] : raw;
  if (presented === undefined) return undefined;
  return presented === expectedApiKey ? undefined : 'sender api key does not match';
}

/** What the API must say for a webhook status to be believed. Pure. */
export function apiStatusesConfirming(statusType: ApprovalWebhook['statusType']): readonly XprizoTransactionStatus[] {
  switch (statusType) {
    case 0:
      return [];
    case 1:
      return ['Pending', 'Hold'];
    case 2:
      return ['Active'];
    case 3:
    case 4:
      return ['NotFound', 'Void'];
    default: {
      const unreachable: never = statusType;
      throw new Error(`unknown statusType ${String(unreachable)}`);
    }
  }
}

/** Compares the webhook's transaction with the API's view of it. Pure: returns a reason when they differ. */
export function contradiction(
  claimed: { amount?: number | null; currencyCode?: string | null; id?: string | null },
  api: StatusByReferenceResponse,
): string | undefined {
  if (!('status' in api) || !('amount' in api)) return undefined;
  if (claimed.currencyCode && api.currencyCode && claimed.currencyCode !== api.currencyCode) {
    return `currency ${claimed.currencyCode} differs from the API's ${api.currencyCode}`;
  }
  const currency = api.currencyCode ?? claimed.currencyCode;
  if (typeof claimed.amount === 'number' && typeof api.amount === 'number' && currency) {
    if (!sameAmount(claimed.amount, api.amount, currency)) {
      return `amount ${claimed.amount} differs from the API's ${api.amount}`;
    }
  }
  const apiId = api.transactionId ?? api.key;
  if (claimed.id && claimed.id !== '0' && apiId && claimed.id !== apiId) {
    return `transaction ${claimed.id} differs from the API's ${apiId}`;
  }
  return undefined;
}

export async function verifyXprizoApprovalWebhook(
  body: unknown,
  headers: Headers,
  client: XprizoClient,
  options: XprizoVerifyOptions = {},
): Promise<XprizoVerification> {
  const keyProblem = checkSenderKey(headers, options.expectedApiKey);
  if (keyProblem) return { ok: false, reason: keyProblem };
  const parsed = ApprovalWebhookSchema.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'not an Xprizo approval webhook' };
  const webhook = parsed.data;
  const status = approvalStatusToProviderStatus(webhook.statusType);
  if (status === undefined) return { ok: true, ignore: true, reason: 'test webhook (statusType 0)' };

  const transaction = webhook.transaction;
  const transactionId = typeof transaction?.id === 'number' && transaction.id > 0 ? String(transaction.id) : undefined;
  let reference = transaction?.reference ?? undefined;
  if (!reference && transactionId && options.referenceForTransactionId) {
    reference = await options.referenceForTransactionId(transactionId);
  }
  if (!reference) return { ok: false, reason: 'unmatchable' };

  const api = await client.statusByReference(reference);
  if (!apiStatusesConfirming(webhook.statusType).includes(api.status)) {
    return { ok: false, reason: `webhook says ${webhook.status ?? webhook.statusType} but the API says ${api.status}` };
  }
  const differs = contradiction(
    { amount: transaction?.amount, currencyCode: transaction?.currencyCode, id: transactionId },
    api,
  );
  if (differs) return { ok: false, reason: differs };
  // Accepted/Rejected/Cancelled happen once per transaction; New carries id 0, so the reference names it.
  const event: ProviderEvent = {
    eventId: `xprizo:${reference}:${webhook.statusType}`,
    status,
    providerRef: transactionId ?? reference,
    detail: `xprizo approval webhook: ${webhook.status ?? webhook.statusType}`,
  };
  return { ok: true, event, invoiceId: reference };
}

/**
 * The payment callback of a held pay-out. Believed only when the API still shows the transaction held (Hold, or
 * Pending on accounts that report holds that way) with the same amount and currency; Active means we already
 * released it and the callback is a late duplicate.
 */
export async function verifyXprizoPaymentCallback(
  body: unknown,
  headers: Headers,
  client: XprizoClient,
  options: Pick<XprizoVerifyOptions, 'expectedApiKey'> = {},
): Promise<XprizoVerification> {
  const keyProblem = checkSenderKey(headers, options.expectedApiKey);
  if (keyProblem) return { ok: false, reason: keyProblem };
  const parsed = PaymentCallbackSchema.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'not an Xprizo payment callback' };
  const callback: PaymentCallback = parsed.data;
  const api = await client.statusByReference(callback.reference);
  if (api.status !== 'Hold' && api.status !== 'Pending' && api.status !== 'Active') {
    return { ok: false, reason: `callback for a transaction the API reports ${api.status}` };
  }
  const differs = contradiction(
    { amount: callback.amount, currencyCode: callback.currencyCode, id: String(callback.id) },
    api,
  );
  if (differs) return { ok: false, reason: differs };
  const event: ProviderEvent = {
    eventId: `xprizo:${callback.reference}:callback:${callback.id}`,
    status: api.status === 'Active' ? 'settled' : 'approval_requested',
    providerRef: String(callback.id),
    detail: 'xprizo payment callback: hold awaits our answer',
  };
  return { ok: true, event, invoiceId: callback.reference };
}
