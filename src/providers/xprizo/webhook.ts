import { isCurrencyCode } from '../../domain/money';
import type { ProviderEvent } from '../../workflows/definitions';
import { XPRIZO_REFS } from './adapter';
import type { XprizoClient } from './client';
import { approvalStatusToProviderStatus, fromXprizoAmount, sameAmount } from './mapping';
import {
  ApprovalWebhookSchema,
  PaymentCallbackSchema,
  type ApprovalWebhook,
  type PaymentCallback,
  type StatusByReferenceResponse,
  type XprizoTransactionStatus,
} from './schemas';

/**
 * Xprizo documents no webhook signature. The gateway lets a webhook reach these functions only when its URL holds our
 * secret token (see the routes in index.ts); they then believe it only when StatusByReference agrees with it, amount
 * and currency included. The reference is our invoiceId, so an accepted event names its invoice directly.
 */
export type XprizoVerification =
  | { ok: true; event: ProviderEvent; invoiceId: string; ignore?: false }
  /** A test webhook (statusType 0): answer 200 and do nothing. */
  | { ok: true; ignore: true; reason: string }
  | { ok: false; reason: string };

export interface XprizoVerifyOptions {
  /**
   * A webhook without a reference (Rejected may carry only nulls; the docs' Accepted sample has reference null) can
   * be matched only through a transaction id we stored. The gateway may pass a lookup (e.g. a search attribute on
   * refs.xprizoTransactionKey); without one such a webhook is `unmatchable` and the invoice learns the outcome by
   * polling StatusByReference.
   */
  referenceForTransactionId?: (transactionId: string) => Promise<string | undefined>;
}

/** All verification needs of the client: the one call that asks Xprizo what it holds. */
export type StatusSource = Pick<XprizoClient, 'statusByReference'>;

/**
 * What the API must say for a webhook status to be believed. Pure. NotFound confirms no negative outcome: it is also
 * what the API says of a reference it never saw, so a forged Rejected naming any invoice would be "confirmed" by it.
 * Only Void states the outcome; where the API says NotFound instead, the invoice learns it by polling.
 */
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
      return ['Void'];
    default: {
      const unreachable: never = statusType;
      throw new Error(`unknown statusType ${String(unreachable)}`);
    }
  }
}

/**
 * Compares the webhook's transaction with the API's view of it. Pure: returns a reason when they differ. Money the
 * webhook states must be money the API states too: a claim the API cannot back is no more believable than a wrong one.
 */
export function contradiction(
  claimed: { amount?: number | null; currencyCode?: string | null; id?: string | null },
  api: StatusByReferenceResponse,
): string | undefined {
  const apiAmount = 'amount' in api ? api.amount : undefined;
  const apiCurrency = 'currencyCode' in api ? api.currencyCode : undefined;
  if (claimed.currencyCode) {
    if (!apiCurrency) return `currency ${claimed.currencyCode} not confirmed by the API`;
    if (claimed.currencyCode !== apiCurrency)
      return `currency ${claimed.currencyCode} differs from the API's ${apiCurrency}`;
  }
  if (typeof claimed.amount === 'number') {
    const currency = apiCurrency ?? claimed.currencyCode;
    if (typeof apiAmount !== 'number' || !currency) return `amount ${claimed.amount} not confirmed by the API`;
    if (!sameAmount(claimed.amount, apiAmount, currency)) {
      return `amount ${claimed.amount} differs from the API's ${apiAmount}`;
    }
  }
  const apiId = ('transactionId' in api ? api.transactionId : undefined) ?? ('key' in api ? api.key : undefined);
  if (claimed.id && claimed.id !== '0' && apiId && claimed.id !== apiId) {
    return `transaction ${claimed.id} differs from the API's ${apiId}`;
  }
  return undefined;
}

/** The money the API states for the transaction, in minor units; undefined when it states none we can read. */
export function apiMoney(api: StatusByReferenceResponse): ProviderEvent['money'] {
  if (!('amount' in api) || typeof api.amount !== 'number' || !api.currencyCode) return undefined;
  if (!isCurrencyCode(api.currencyCode)) return undefined;
  try {
    return { amount: fromXprizoAmount(api.amount, api.currencyCode), currency: api.currencyCode };
  } catch {
    return undefined;
  }
}

export async function verifyXprizoApprovalWebhook(
  body: unknown,
  client: StatusSource,
  options: XprizoVerifyOptions = {},
): Promise<XprizoVerification> {
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
  const money = apiMoney(api);
  // Accepted/Rejected/Cancelled happen once per transaction; New carries id 0, so the reference names it.
  const event: ProviderEvent = {
    eventId: `xprizo:${reference}:${webhook.statusType}`,
    provider: 'xprizo',
    status,
    ref: { key: XPRIZO_REFS.reference, value: reference },
    ...(money ? { money } : {}),
    detail: `xprizo approval webhook: ${webhook.status ?? webhook.statusType}`,
  };
  return { ok: true, event, invoiceId: reference };
}

/**
 * The payment callback of a held pay-out. Believed only when the API still shows the transaction held (Hold, or
 * Pending on accounts that report holds that way) with the same amount and currency; Active means we already
 * released it and the callback is a late duplicate.
 */
export async function verifyXprizoPaymentCallback(body: unknown, client: StatusSource): Promise<XprizoVerification> {
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
  const money = apiMoney(api);
  const event: ProviderEvent = {
    eventId: `xprizo:${callback.reference}:callback:${callback.id}`,
    provider: 'xprizo',
    status: api.status === 'Active' ? 'settled' : 'approval_requested',
    ref: { key: XPRIZO_REFS.reference, value: callback.reference },
    ...(money ? { money } : {}),
    detail: 'xprizo payment callback: hold awaits our answer',
  };
  return { ok: true, event, invoiceId: callback.reference };
}
