import { FAILURE_TYPES, providerRefusal } from '../../errors';
import { refusedWith404 } from '../http';
import {
  undoable,
  type CompensationInput,
  type ProviderAdapter,
  type StatusResult,
  type StepInput,
  type StepResult,
} from '../types';
import type { PayOneClient } from './client';
import {
  DEFAULT_STATUS_ALIASES,
  mapPayOneState,
  toExpiryPeriod,
  toPayOneAmount,
  toPayOneCurrency,
  toPayOneState,
  type PayOneState,
} from './mapping';
import type { PayOneInquiry } from './schemas';

export interface PayOneAdapterOptions {
  /** inquireInvoice status strings (lower case) to states. UNCONFIRMED; see DEFAULT_STATUS_ALIASES. */
  statusAliases?: Readonly<Record<string, PayOneState>>;
  /** Recognises create's refusal of an invoiceID PayOne already has. UNCONFIRMED wording. */
  duplicatePattern?: RegExp;
  /** Recognises success in activate/deactivate's status sentence ("Invoice is activated successfully"). */
  successPattern?: RegExp;
  language?: string;
}

export const PAYONE_REFS = {
  invoiceId: 'payoneInvoiceId',
  paymentLink: 'payonePaymentLink',
  rrn: 'payoneRrn',
} as const;

export function createPayOneAdapter(client: PayOneClient, options: PayOneAdapterOptions = {}): ProviderAdapter {
  const aliases = options.statusAliases ?? DEFAULT_STATUS_ALIASES;
  const duplicate = options.duplicatePattern ?? /duplicate|already exist/i;
  const success = options.successPattern ?? /success/i;

  function stateOf(inquiry: PayOneInquiry): PayOneState {
    const state = toPayOneState(inquiry.status, aliases);
    if (!state) {
      throw providerRefusal(FAILURE_TYPES.invalidResponse, `payone: unknown invoice status "${inquiry.status}"`);
    }
    return state;
  }

  /** Our invoice id is PayOne's invoiceID: a retried create meets PayOne's own uniqueness check. */
  async function ensureCreated(input: StepInput): Promise<{ link?: string }> {
    const { invoice } = input;
    const created = await client.createPreAuthInvoice({
      invoiceID: invoice.invoiceId,
      amount: toPayOneAmount(invoice.amount),
      currency: toPayOneCurrency(invoice.currency),
      expiryperiod: toExpiryPeriod(invoice.approval.timeoutSeconds),
      paymentDescription: invoice.description ?? `Invoice ${invoice.invoiceId}`,
      customerEmailAddress: invoice.customer.email,
      language: options.language ?? 'en',
    });
    if (!created) throw providerRefusal(FAILURE_TYPES.invalidResponse, 'payone create: no invoice in the answer');
    if (created.status.toLowerCase() === 'success') return { link: created.paymentLink };
    const description = created.statusDescription ?? created.status;
    if (!duplicate.test(description)) {
      throw providerRefusal(FAILURE_TYPES.providerRejected, `payone refused the invoice: ${description}`);
    }
    // Ours from an earlier attempt if it is for the same money; anyone else's is a clash we must not take over.
    const existing = await client.inquireInvoice(invoice.invoiceId);
    const sameMoney =
      existing.amount === toPayOneAmount(invoice.amount) &&
      (existing.currency === undefined || existing.currency === toPayOneCurrency(invoice.currency));
    if (!sameMoney) {
      throw providerRefusal(
        FAILURE_TYPES.providerRejected,
        `payone already has invoiceID ${invoice.invoiceId} for another amount`,
      );
    }
    return {};
  }

  function rrnRefs(rrn: string | undefined): Record<string, string> {
    return rrn ? { [PAYONE_REFS.rrn]: rrn } : {};
  }

  return {
    name: 'payone',

    async submit(input) {
      const { link } = await ensureCreated(input);
      const inquiry = await client.inquireInvoice(input.invoice.invoiceId);
      let state = stateOf(inquiry);
      if (state === 'inactive') {
        const answer = await client.activateInvoice(input.invoice.invoiceId);
        if (!success.test(answer)) {
          // A lost answer to an earlier activate: the invoice may be active already.
          state = stateOf(await client.inquireInvoice(input.invoice.invoiceId));
          if (state === 'inactive') {
            throw providerRefusal(FAILURE_TYPES.providerRejected, `payone did not activate the invoice: ${answer}`);
          }
        } else {
          state = 'active';
        }
      }
      return {
        refs: {
          [PAYONE_REFS.invoiceId]: input.invoice.invoiceId,
          ...(link ? { [PAYONE_REFS.paymentLink]: link } : {}),
        },
        providerStatus: mapPayOneState(state),
        compensation: 'deactivate',
      };
    },

    async complete(input): Promise<StepResult> {
      const invoiceID = input.refs[PAYONE_REFS.invoiceId] ?? input.invoice.invoiceId;
      const result = await client.completeInvoice({
        invoiceID,
        amount: toPayOneAmount(input.invoice.amount),
        currency: toPayOneCurrency(input.invoice.currency),
      });
      if (result.status.toLowerCase() === 'success') {
        return { providerStatus: 'settled', refs: rrnRefs(result.rrn) };
      }
      // A retry after a completion whose answer was lost finds the invoice completed: that is success.
      const inquiry = await client.inquireInvoice(invoiceID);
      if (stateOf(inquiry) === 'completed') {
        return { providerStatus: 'settled', refs: rrnRefs(inquiry.rrn) };
      }
      throw providerRefusal(
        FAILURE_TYPES.providerRejected,
        `payone did not complete the invoice: ${result.statusDescription ?? result.status}`,
      );
    },

    async compensate(input: CompensationInput): Promise<StepResult> {
      if (input.action !== 'deactivate') {
        throw providerRefusal(FAILURE_TYPES.notSupported, `payone has no compensation ${input.action}`);
      }
      const invoiceID = input.refs[PAYONE_REFS.invoiceId] ?? input.invoice.invoiceId;
      const before = stateOf(await client.inquireInvoice(invoiceID));
      if (before === 'completed') {
        throw providerRefusal(FAILURE_TYPES.notUndone, 'payone invoice is already captured: only a refund can undo it');
      }
      const answer = await client.deactivateInvoice(invoiceID);
      if (success.test(answer)) return { providerStatus: 'cancelled' };
      const state = stateOf(await client.inquireInvoice(invoiceID));
      if (state === 'deactivated' || state === 'expired') return { providerStatus: mapPayOneState(state) };
      // PayOne has no documented void of a pre-authorization: the undo did not happen, and the operator must know.
      throw providerRefusal(
        FAILURE_TYPES.notUndone,
        `payone did not deactivate (${answer}); the invoice is ${state}${state === 'pre-authorized' ? ': the hold lapses at the issuer' : ''}`,
      );
    },

    async fetchStatus(input): Promise<StatusResult> {
      const inquiry = await client
        .inquireInvoice(input.refs[PAYONE_REFS.invoiceId] ?? input.invoice.invoiceId)
        .catch((error: unknown) => {
          if (refusedWith404(error)) throw providerRefusal(FAILURE_TYPES.notFound, 'payone knows no such invoice');
          throw error;
        });
      const state = stateOf(inquiry);
      const status = mapPayOneState(state);
      return {
        status,
        ...(undoable(status) ? { compensation: 'deactivate' } : {}),
        detail: `payone status ${inquiry.status}`,
        ...(inquiry.rrn ? { refs: { [PAYONE_REFS.rrn]: inquiry.rrn } } : {}),
      };
    },
  };
}
