import { FAILURE_TYPES, providerRefusal } from '../../errors';
import type { Logger } from '../../logger';
import { refusedWith404 } from '../http';
import { lookUpByReference } from '../records';
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
  fromPayOneAmount,
  fromPayOneCurrency,
  mapPayOneState,
  payOneRecordStatus,
  readPayOneStatus,
  toExpiryPeriod,
  toPayOneAmount,
  toPayOneCurrency,
  type PayOneState,
  type PayOneStatusReading,
} from './mapping';
import type { PayOneInquiry } from './schemas';

export interface PayOneAdapterOptions {
  /** inquireInvoice status strings (lower case) to states, the whole table. UNCONFIRMED; see statusAliasTable. */
  statusAliases?: Readonly<Record<string, PayOneState>>;
  /** Where a status missing from the table is reported; without one it is only returned. */
  logger?: Logger;
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

  /**
   * The inquiry's status through the alias table. A word the table lacks is reported, not thrown: the table is our
   * guess at PayOne's words, and an invoice must not fail because PayOne spelled a state differently.
   */
  function readStatus(inquiry: PayOneInquiry, during: string): PayOneStatusReading {
    const reading = readPayOneStatus(inquiry.status, aliases);
    if (reading.kind === 'unknown') {
      // The invoice id and PayOne's status word only: the inquiry also carries card data and the merchant's token.
      // The registry's logger names the provider already.
      options.logger?.warn(
        { invoiceId: inquiry.invoiceID, rawStatus: clip(reading.raw), during },
        'payone answered a status missing from its status table (PAYONE_STATUS_ALIASES)',
      );
    }
    return reading.kind === 'unknown' ? { kind: 'unknown', raw: clip(reading.raw) } : reading;
  }

  /** For messages: the state, or PayOne's own word quoted when the table does not know it. */
  function describe(reading: PayOneStatusReading): string {
    return reading.kind === 'known' ? reading.state : `"${reading.raw}" (not in the status table)`;
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
      const refs = {
        [PAYONE_REFS.invoiceId]: input.invoice.invoiceId,
        ...(link ? { [PAYONE_REFS.paymentLink]: link } : {}),
      };
      const reading = readStatus(await client.inquireInvoice(input.invoice.invoiceId), 'submit');
      if (reading.kind === 'unknown') {
        // Created, in a state we cannot name: activating it blind could be refused or wrong. Polling reads it later.
        return {
          refs,
          providerStatus: 'pending',
          compensation: 'deactivate',
          note: `payone status ${describe(reading)}`,
        };
      }
      let state = reading.state;
      if (state === 'inactive') {
        const answer = await client.activateInvoice(input.invoice.invoiceId);
        if (!success.test(answer)) {
          // A lost answer to an earlier activate: the invoice may be active already.
          const again = readStatus(await client.inquireInvoice(input.invoice.invoiceId), 'submit');
          if (again.kind === 'unknown' || again.state === 'inactive') {
            throw providerRefusal(
              FAILURE_TYPES.providerRejected,
              `payone did not activate the invoice: ${answer}; it is ${describe(again)}`,
            );
          }
          state = again.state;
        } else {
          state = 'active';
        }
      }
      return { refs, providerStatus: mapPayOneState(state), compensation: 'deactivate' };
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
      const reading = readStatus(inquiry, 'complete');
      if (reading.kind === 'known' && reading.state === 'completed') {
        return { providerStatus: 'settled', refs: rrnRefs(inquiry.rrn) };
      }
      throw providerRefusal(
        FAILURE_TYPES.providerRejected,
        `payone did not complete the invoice: ${result.statusDescription ?? result.status}` +
          (reading.kind === 'unknown' ? `; it is ${describe(reading)}` : ''),
      );
    },

    async compensate(input: CompensationInput): Promise<StepResult> {
      if (input.action !== 'deactivate') {
        throw providerRefusal(FAILURE_TYPES.notSupported, `payone has no compensation ${input.action}`);
      }
      const invoiceID = input.refs[PAYONE_REFS.invoiceId] ?? input.invoice.invoiceId;
      const before = readStatus(await client.inquireInvoice(invoiceID), 'compensate');
      // A status we cannot name is tried: deactivate is refused by PayOne itself past payment or capture.
      if (before.kind === 'known' && before.state === 'completed') {
        throw providerRefusal(FAILURE_TYPES.notUndone, 'payone invoice is already captured: only a refund can undo it');
      }
      const answer = await client.deactivateInvoice(invoiceID);
      if (success.test(answer)) return { providerStatus: 'cancelled' };
      const after = readStatus(await client.inquireInvoice(invoiceID), 'compensate');
      if (after.kind === 'known' && (after.state === 'deactivated' || after.state === 'expired')) {
        return { providerStatus: mapPayOneState(after.state) };
      }
      // PayOne has no documented void of a pre-authorization: the undo did not happen, and the operator must know.
      const held = after.kind === 'known' && after.state === 'pre-authorized';
      throw providerRefusal(
        FAILURE_TYPES.notUndone,
        `payone did not deactivate (${answer}); the invoice is ${describe(after)}${held ? ': the hold lapses at the issuer' : ''}`,
      );
    },

    async fetchStatus(input): Promise<StatusResult> {
      const inquiry = await client
        .inquireInvoice(input.refs[PAYONE_REFS.invoiceId] ?? input.invoice.invoiceId)
        .catch((error: unknown) => {
          if (refusedWith404(error)) throw providerRefusal(FAILURE_TYPES.notFound, 'payone knows no such invoice');
          throw error;
        });
      const reading = readStatus(inquiry, 'fetchStatus');
      const refs = inquiry.rrn ? { refs: { [PAYONE_REFS.rrn]: inquiry.rrn } } : {};
      if (reading.kind === 'unknown') {
        // No news rather than a failure: the invoice exists (its undo stays registered) and polling goes on.
        return {
          status: 'pending',
          unrecognized: reading.raw,
          compensation: 'deactivate',
          detail: `payone status ${describe(reading)}`,
          ...refs,
        };
      }
      const status = mapPayOneState(reading.state);
      return {
        status,
        ...(undoable(status) ? { compensation: 'deactivate' } : {}),
        detail: `payone status ${inquiry.status}`,
        ...refs,
      };
    },

    listRecords(query) {
      // SmartLink lists nothing (only a CSV batch over SFTP): inquireInvoice per reference, our id being PayOne's.
      return lookUpByReference(
        query,
        {
          refKey: PAYONE_REFS.invoiceId,
          note: 'PayOne has no list operation: its invoices are inquired one by one by our references, so an orphan (a PayOne invoice we never created) cannot be found',
        },
        async (reference) => {
          let inquiry: PayOneInquiry;
          try {
            inquiry = await client.inquireInvoice(reference);
          } catch (error) {
            if (refusedWith404(error)) return undefined;
            throw error;
          }
          const reading = readStatus(inquiry, 'reconciliation');
          let amount: number | undefined;
          try {
            amount = inquiry.amount !== undefined ? fromPayOneAmount(inquiry.amount) : undefined;
          } catch {
            amount = undefined;
          }
          const currency = inquiry.currency !== undefined ? fromPayOneCurrency(inquiry.currency) : undefined;
          return {
            providerRef: inquiry.invoiceID,
            ourReference: inquiry.invoiceID,
            ...(amount !== undefined ? { amount } : {}),
            ...(currency !== undefined ? { currency } : {}),
            status: payOneRecordStatus(reading.kind === 'known' ? reading.state : undefined),
            detail: `payone status ${describe(reading)}`,
          };
        },
      );
    },
  };
}

/** PayOne's status word as we repeat it (logs, details, messages): one line, and short. */
function clip(raw: string): string {
  const line = raw.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 80)}…` : line;
}
