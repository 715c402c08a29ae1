import { FAILURE_TYPES, providerRefusal } from '../../errors';
import {
  mayFollowEarlierAttempt,
  undoable,
  type CompensationInput,
  type ForceCompleteResult,
  type ForceCompleteStepInput,
  type ProviderAdapter,
  type RecordsPage,
  type RecordsQuery,
  type StatusResult,
  type StepInput,
  type StepResult,
} from '../types';
import type { BitfinexClient } from './client';
import {
  amountToMinor,
  bitfinexOrderId,
  checkoutUrl,
  createInvoiceBody,
  invoiceStatusToProviderStatus,
  reconciliationRecord,
} from './mapping';
import type { BitfinexInvoice } from './schemas';

export const BITFINEX_COMPENSATIONS = { expireInvoice: 'expire_invoice' } as const;
export const BITFINEX_REFS = { invoiceId: 'bitfinexInvoiceId', checkoutUrl: 'bitfinexCheckoutUrl' } as const;

/** The most Bitfinex's invoice list answers per request. */
const LIST_LIMIT = 100;

export interface BitfinexAdapterOptions {
  defaultPayCurrencies?: readonly string[];
  redirectUrl?: string;
}

export function createBitfinexAdapter(client: BitfinexClient, options: BitfinexAdapterOptions = {}): ProviderAdapter {
  async function invoiceFor(input: StepInput): Promise<BitfinexInvoice | undefined> {
    const id = input.refs[BITFINEX_REFS.invoiceId];
    if (id) return client.getInvoice(id);
    return client.findByOrderId(bitfinexOrderId(input.invoice.invoiceId));
  }

  function refs(invoice: BitfinexInvoice): Record<string, string> {
    return { [BITFINEX_REFS.invoiceId]: invoice.id, [BITFINEX_REFS.checkoutUrl]: checkoutUrl(invoice.id) };
  }

  return {
    name: 'bitfinex',

    async submit(input: StepInput): Promise<StepResult> {
      // Bitfinex has no idempotency of its own and allows 90 requests a minute: look for an invoice an earlier attempt
      // may have created only when there was an earlier attempt.
      const existing = mayFollowEarlierAttempt(input)
        ? await client.findByOrderId(bitfinexOrderId(input.invoice.invoiceId))
        : undefined;
      const invoice =
        existing ??
        (await client.createInvoice(
          createInvoiceBody(input.invoice, {
            webhookUrl: client.webhookUrl,
            redirectUrl: options.redirectUrl,
            defaultPayCurrencies: options.defaultPayCurrencies,
          }),
        ));
      return {
        refs: refs(invoice),
        providerStatus: invoiceStatusToProviderStatus(invoice.status),
        compensation: BITFINEX_COMPENSATIONS.expireInvoice,
        note: existing ? 'invoice already existed (earlier attempt)' : 'invoice created',
      };
    },

    async compensate(input: CompensationInput): Promise<StepResult> {
      if (input.action !== BITFINEX_COMPENSATIONS.expireInvoice) {
        throw providerRefusal(FAILURE_TYPES.notSupported, `bitfinex has no compensation ${input.action}`);
      }
      const id = input.refs[BITFINEX_REFS.invoiceId];
      let target = id;
      if (!target) {
        // Without its id (never the case after a submit that answered or a lookup that found it) a search comes first.
        const invoice = await client.findByOrderId(bitfinexOrderId(input.invoice.invoiceId));
        if (!invoice || invoice.status === 'EXPIRED') {
          return { providerStatus: 'expired', note: 'nothing to undo: no live invoice at bitfinex' };
        }
        target = invoice.id;
      }
      // One request: expiring an EXPIRED invoice answers it as it is, and Bitfinex refuses to expire a COMPLETED one
      // (a final ProviderRejected: the customer paid and only a refund can undo it), so no look is needed first.
      const expired = await client.expireInvoice(target);
      return { refs: refs(expired), providerStatus: invoiceStatusToProviderStatus(expired.status), note: 'expired' };
    },

    /**
     * Complete Invoice, once: the invoice is looked at first, so a retry after a lost answer (or a second request)
     * finds it COMPLETED and does not link a second deposit. One the customer's own payment completed is left as it is.
     */
    async forceComplete(input: ForceCompleteStepInput): Promise<ForceCompleteResult> {
      const invoice = await invoiceFor(input);
      if (!invoice) throw providerRefusal(FAILURE_TYPES.notFound, 'bitfinex knows no invoice for this order');
      if (invoice.status === 'COMPLETED') {
        const forced = invoice.payment?.forceCompleted === true;
        return {
          refs: refs(invoice),
          providerStatus: 'settled',
          forced,
          note: forced ? 'already completed by hand at bitfinex' : "the customer's payment had completed it already",
        };
      }
      if (invoice.status === 'EXPIRED') {
        throw providerRefusal(
          FAILURE_TYPES.providerRejected,
          'bitfinex invoice is EXPIRED; it can no longer be completed',
        );
      }
      const { payCcy, depositId, ledgerId } = input.completion;
      const completed = await client.completeInvoice({
        id: invoice.id,
        payCcy,
        ...(depositId !== undefined ? { depositId } : {}),
        ...(ledgerId !== undefined ? { ledgerId } : {}),
      });
      return {
        refs: refs(completed),
        providerStatus: invoiceStatusToProviderStatus(completed.status),
        forced: completed.payment?.forceCompleted === true,
        note: `completed by hand at bitfinex (${payCcy} ${depositId !== undefined ? `deposit ${depositId}` : `ledger entry ${String(ledgerId)}`})`,
      };
    },

    async fetchStatus(input: StepInput): Promise<StatusResult> {
      const invoice = await invoiceFor(input);
      if (!invoice) throw providerRefusal(FAILURE_TYPES.notFound, 'bitfinex knows no invoice for this order');
      const status = invoiceStatusToProviderStatus(invoice.status);
      const minor = amountToMinor(invoice.amount, invoice.currency);
      return {
        status,
        ...(minor === undefined ? {} : { money: { amount: minor, currency: invoice.currency } }),
        ...(undoable(status) ? { compensation: BITFINEX_COMPENSATIONS.expireInvoice } : {}),
        refs: refs(invoice),
        detail: `bitfinex invoice ${invoice.status}${invoice.payment?.confirmations != null ? `, ${invoice.payment.confirmations} confirmations` : ''}`,
      };
    },

    async listRecords(query: RecordsQuery): Promise<RecordsPage> {
      // Newest first, at most LIST_LIMIT a request: the next page ends just before the oldest invoice of this one.
      const start = Date.parse(query.since);
      const end = query.cursor !== undefined ? Number(query.cursor) : Date.parse(query.until);
      const page = await client.listInvoices({ start, end, limit: LIST_LIMIT });
      const oldest = Math.min(...page.map((invoice) => invoice.t));
      return {
        coverage: 'list',
        refKey: BITFINEX_REFS.invoiceId,
        records: page.map(reconciliationRecord),
        ...(page.length >= LIST_LIMIT && oldest > start ? { nextCursor: String(oldest - 1) } : {}),
      };
    },
  };
}
