import { FAILURE_TYPES, providerRefusal } from '../../errors';
import {
  undoable,
  type CompensationInput,
  type ProviderAdapter,
  type StatusResult,
  type StepInput,
  type StepResult,
} from '../types';
import { SEND_ACTIONS, type CreatedTransaction, type XprizoClient } from './client';
import {
  requestPaymentBody,
  sendPaymentBody,
  transactionStatusToProviderStatus,
  xprizoRecordStatus,
  xprizoReference,
} from './mapping';
import { lookUpByReference } from '../records';
import { decimalToMinor, isCurrencyCode } from '../../domain/money';

export const XPRIZO_COMPENSATIONS = { cancelRequest: 'cancel_request', voidHold: 'void_hold' } as const;

/** Refs we keep; strings only, never secrets. */
export const XPRIZO_REFS = {
  reference: 'xprizoReference',
  transactionKey: 'xprizoTransactionKey',
  expiresAt: 'xprizoExpiresAt',
} as const;

export function createXprizoAdapter(client: XprizoClient, now: () => number = Date.now): ProviderAdapter {
  function refsOf(input: StepInput, created: CreatedTransaction): Record<string, string> {
    const refs: Record<string, string> = { [XPRIZO_REFS.reference]: xprizoReference(input.invoice.invoiceId) };
    if (created.key) refs[XPRIZO_REFS.transactionKey] = created.key;
    if (created.expiryDate) refs[XPRIZO_REFS.expiresAt] = created.expiryDate;
    return refs;
  }

  function requireWallet(input: StepInput): void {
    if (!input.invoice.paymentMethod.walletAccountId) {
      throw providerRefusal(
        FAILURE_TYPES.providerRejected,
        'xprizo needs the customer wallet: paymentMethod.walletAccountId is missing',
      );
    }
  }

  async function keyFor(input: StepInput): Promise<string | undefined> {
    const stored = input.refs[XPRIZO_REFS.transactionKey];
    if (stored) return stored;
    // The submit attempt that created it may have failed before its refs reached the workflow.
    const status = await client.statusByReference(xprizoReference(input.invoice.invoiceId));
    return 'key' in status ? (status.key ?? status.transactionId ?? undefined) : undefined;
  }

  async function fetchStatus(input: StepInput): Promise<StatusResult> {
    const reference = input.refs[XPRIZO_REFS.reference] ?? xprizoReference(input.invoice.invoiceId);
    const answer = await client.statusByReference(reference);
    const expiresAt = Date.parse(input.refs[XPRIZO_REFS.expiresAt] ?? '');
    const status = transactionStatusToProviderStatus(answer.status, {
      direction: input.invoice.direction,
      pastExpiry: Number.isFinite(expiresAt) && now() >= expiresAt,
    });
    const compensation =
      input.invoice.direction === 'pay_out' ? XPRIZO_COMPENSATIONS.voidHold : XPRIZO_COMPENSATIONS.cancelRequest;
    return {
      status,
      detail: `xprizo StatusByReference: ${answer.status}`,
      ...(undoable(status) && answer.status !== 'NotFound' ? { compensation } : {}),
    };
  }

  return {
    name: 'xprizo',

    async submit(input: StepInput): Promise<StepResult> {
      requireWallet(input);
      if (input.invoice.direction === 'pay_in') {
        const created = await client.requestPayment(requestPaymentBody(input.invoice, client.merchantAccountId));
        return {
          refs: refsOf(input, created),
          providerStatus: 'pending',
          compensation: XPRIZO_COMPENSATIONS.cancelRequest,
          note: created.existing ? 'payment request already existed (earlier attempt)' : 'payment request sent',
        };
      }
      const created = await client.sendPayment(
        sendPaymentBody(input.invoice, client.merchantAccountId),
        SEND_ACTIONS.hold,
      );
      return {
        refs: refsOf(input, created),
        // The hold's milestone (approval_requested) comes with Xprizo's payment callback or a status poll.
        providerStatus: 'pending',
        compensation: XPRIZO_COMPENSATIONS.voidHold,
        note: created.existing ? 'held payment already existed (earlier attempt)' : 'payment sent on hold',
      };
    },

    async compensate(input: CompensationInput): Promise<StepResult> {
      if (input.action !== XPRIZO_COMPENSATIONS.cancelRequest && input.action !== XPRIZO_COMPENSATIONS.voidHold) {
        throw providerRefusal(FAILURE_TYPES.notSupported, `xprizo has no compensation ${input.action}`);
      }
      const before = await fetchStatus(input);
      if (before.status === 'cancelled' || before.status === 'expired') {
        return { providerStatus: before.status, note: 'nothing to undo: xprizo no longer has it' };
      }
      if (before.status === 'settled') {
        throw providerRefusal(
          FAILURE_TYPES.providerRejected,
          'xprizo transaction is already Active: the money moved and only a refund can undo it',
        );
      }
      const key = await keyFor(input);
      if (!key) throw providerRefusal(FAILURE_TYPES.providerRejected, 'xprizo transaction key unknown: cannot cancel');
      if (input.action === XPRIZO_COMPENSATIONS.voidHold) await client.voidHold(key);
      else await client.approvalCancel(key);
      return { providerStatus: 'cancelled', note: `xprizo ${input.action} done` };
    },

    fetchStatus,

    listRecords(query) {
      // No list operation: StatusByReference per reference, our invoice key being Xprizo's reference.
      return lookUpByReference(
        query,
        {
          refKey: XPRIZO_REFS.reference,
          note: 'Xprizo has no list operation: transactions are looked up one by one by our references (StatusByReference), so an orphan (a transaction we never requested) cannot be found; NotFound means timed out or cancelled',
        },
        async (ours) => {
          const reference = xprizoReference(ours);
          const answer = await client.statusByReference(reference);
          const currency = 'currencyCode' in answer ? (answer.currencyCode ?? undefined) : undefined;
          const decimal = 'amount' in answer ? (answer.amount ?? undefined) : undefined;
          let amount: number | undefined;
          try {
            amount =
              decimal !== undefined && currency !== undefined && isCurrencyCode(currency)
                ? decimalToMinor(decimal, currency)
                : undefined;
          } catch {
            amount = undefined;
          }
          return {
            providerRef: reference,
            ourReference: ours,
            ...(amount !== undefined ? { amount } : {}),
            ...(currency !== undefined ? { currency } : {}),
            status: xprizoRecordStatus(answer.status),
            detail: `xprizo StatusByReference: ${answer.status}`,
          };
        },
      );
    },
  };
}
