import type { Direction, ProviderStatus } from '../../domain/constants';
import type { InvoiceRequest } from '../../domain/invoice';
import { decimalToMinor, isCurrencyCode, minorToDecimal, type CurrencyCode } from '../../domain/money';
import { XPRIZO_HELD_APPROVAL_CAP_SECONDS, XPRIZO_HOLD_VOID_SECONDS, XPRIZO_MESSAGES } from './constants';
import type { ApprovalStatusType, TransferBody, XprizoTransactionStatus } from './schemas';
import type { RecordStatus } from '../../domain/reconciliation';

/**
 * The Xprizo `reference` IS our invoiceId: it is unique per invoice, stable across retries, within Xprizo's
 * character set, and it lets a webhook or callback name its invoice without any lookup table.
 */
export function xprizoReference(invoiceId: string): string {
  return invoiceId;
}

/** Xprizo account ids are numbers; a wallet id that is not purely digits is passed through as given. */
export function accountId(id: string): number | string {
  return /^\d{1,15}$/.test(id) ? Number(id) : id;
}

/**
 * Minor units to the decimal Xprizo expects as a JSON number. The digits come from `minorToDecimal`; `Number` only
 * changes the representation (JSON.stringify prints the shortest form that reads back as the same decimal).
 */
export function toXprizoAmount(amount: number, currency: CurrencyCode): number {
  return Number(minorToDecimal(amount, currency));
}

export function fromXprizoAmount(amount: number, currency: CurrencyCode): number {
  return decimalToMinor(amount, currency);
}

/** Same money? Compares in minor units; an unknown currency code never matches. */
export function sameAmount(a: number, b: number, currencyCode: string): boolean {
  if (!isCurrencyCode(currencyCode)) return false;
  try {
    return decimalToMinor(a, currencyCode) === decimalToMinor(b, currencyCode);
  } catch {
    return false;
  }
}

/** Pay-in: the customer's wallet pays the merchant wallet once the customer accepts the request. */
export function requestPaymentBody(invoice: InvoiceRequest, merchantAccountId: string): TransferBody {
  const wallet = invoice.paymentMethod.walletAccountId;
  if (!wallet) throw new Error('walletAccountId is required');
  return {
    fromAccountId: accountId(wallet),
    toAccountId: accountId(merchantAccountId),
    reference: xprizoReference(invoice.invoiceId),
    amount: toXprizoAmount(invoice.amount, invoice.currency),
  };
}

/** Pay-out: the merchant wallet pays the customer's wallet, held until our callback answer. */
export function sendPaymentBody(invoice: InvoiceRequest, merchantAccountId: string): TransferBody {
  const wallet = invoice.paymentMethod.walletAccountId;
  if (!wallet) throw new Error('walletAccountId is required');
  return {
    fromAccountId: accountId(merchantAccountId),
    toAccountId: accountId(wallet),
    reference: xprizoReference(invoice.invoiceId),
    amount: toXprizoAmount(invoice.amount, invoice.currency),
  };
}

/** Approval webhook statusType to our status; `undefined` for None (0), which Xprizo sends only as a test. */
export function approvalStatusToProviderStatus(statusType: ApprovalStatusType): ProviderStatus | undefined {
  switch (statusType) {
    case 0:
      return undefined;
    case 1:
      return 'pending';
    case 2:
      return 'settled';
    case 3:
      return 'rejected';
    case 4:
      return 'cancelled';
    default: {
      const unreachable: never = statusType;
      throw new Error(`unknown Xprizo approval statusType ${String(unreachable)}`);
    }
  }
}

export interface TransactionStatusContext {
  direction: Direction;
  /** The request's expiry date had passed when Xprizo reported NotFound. */
  pastExpiry: boolean;
}

/**
 * StatusByReference to our status. NotFound is what Xprizo reports both for a request that timed out and for one
 * cancelled or rejected: we call it `expired` only when our recorded expiry date has passed, else `cancelled`.
 */
export function transactionStatusToProviderStatus(
  status: XprizoTransactionStatus,
  context: TransactionStatusContext,
): ProviderStatus {
  switch (status) {
    case 'Active':
      return 'settled';
    case 'Pending':
      // A pay-out with a hold shows as Pending on some accounts: it waits for our answer to the callback.
      return context.direction === 'pay_out' ? 'approval_requested' : 'pending';
    case 'Hold':
      return 'approval_requested';
    case 'Void':
      return 'cancelled';
    case 'NotFound':
      return context.pastExpiry ? 'expired' : 'cancelled';
    default: {
      const unreachable: never = status;
      throw new Error(`unknown Xprizo transaction status ${String(unreachable)}`);
    }
  }
}

export function isDuplicateReference(message: string): boolean {
  const text = message.toLowerCase();
  return (
    text.includes(XPRIZO_MESSAGES.duplicateReference.toLowerCase()) ||
    text.includes(XPRIZO_MESSAGES.duplicatePendingReference.toLowerCase())
  );
}

export function isInsufficientFunds(message: string): boolean {
  return /insufficient\s+(funds|balance)/i.test(message);
}

/**
 * A pay-out is sent on hold, and Xprizo voids the hold 24 h after it began unless our answer to its callback releases
 * it: an approval deadline beyond that would let an approver approve money Xprizo has already returned. The deadline
 * is therefore capped before the invoice starts (the workflow reads it from the request, so no history changes), and
 * the note says so in the invoice's details. Pay-ins wait on the customer, not on a hold, and keep their deadline.
 */
export function capHeldApprovalDeadline(request: InvoiceRequest): { request: InvoiceRequest; notes: string[] } {
  const cap = XPRIZO_HELD_APPROVAL_CAP_SECONDS;
  if (request.direction !== 'pay_out' || request.approval.timeoutSeconds <= cap) return { request, notes: [] };
  return {
    request: { ...request, approval: { ...request.approval, timeoutSeconds: cap } },
    notes: [
      `approval deadline capped at ${cap / 3600} h (${cap} s, asked ${request.approval.timeoutSeconds} s): ` +
        `Xprizo voids a held pay-out ${XPRIZO_HOLD_VOID_SECONDS / 3600} h after it is sent`,
    ],
  };
}

/** What StatusByReference says of the money, in reconciliation's words. NotFound: timed out or cancelled. */
export function xprizoRecordStatus(status: XprizoTransactionStatus): RecordStatus {
  switch (status) {
    case 'Active':
      return 'settled';
    case 'Pending':
    case 'Hold':
      return 'pending';
    case 'Void':
    case 'NotFound':
      return 'cancelled';
    default: {
      const unreachable: never = status;
      throw new Error(`unknown Xprizo transaction status ${String(unreachable)}`);
    }
  }
}
