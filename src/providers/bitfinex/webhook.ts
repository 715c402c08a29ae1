import type { ProviderEvent } from '../../workflows/definitions';
import type { BitfinexClient } from './client';
import { invoiceStatusToProviderStatus, sameAmount } from './mapping';
import { InvoiceSchema, type BitfinexInvoice } from './schemas';

export type BitfinexVerification =
  { ok: true; event: ProviderEvent; invoiceId: string; invoice: BitfinexInvoice } | { ok: false; reason: string };

/** Compares the webhook's claims with the invoice Bitfinex returns for its id. Pure: a reason when they differ. */
export function invoiceMismatch(claimed: BitfinexInvoice, actual: BitfinexInvoice): string | undefined {
  if (claimed.id !== actual.id) return `id ${claimed.id} differs from ${actual.id}`;
  if (claimed.status !== actual.status) return `status ${claimed.status} differs from the API's ${actual.status}`;
  if (claimed.currency !== actual.currency) return `currency ${claimed.currency} differs from ${actual.currency}`;
  if (!sameAmount(claimed.amount, actual.amount, actual.currency)) {
    return `amount ${String(claimed.amount)} differs from ${String(actual.amount)}`;
  }
  if (claimed.orderId !== actual.orderId) return `orderId ${claimed.orderId} differs from ${actual.orderId}`;
  return undefined;
}

/**
 * Bitfinex signs no webhook, so the body is only a hint: the invoice is fetched by id with our authenticated key and
 * believed only if id, status, amount, currency and orderId all agree. The orderId is our invoiceId.
 */
export async function verifyBitfinexWebhook(body: unknown, client: BitfinexClient): Promise<BitfinexVerification> {
  const parsed = InvoiceSchema.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'not a Bitfinex invoice' };
  const claimed = parsed.data;
  const actual = await client.getInvoice(claimed.id);
  if (!actual) return { ok: false, reason: `invoice ${claimed.id} unknown to the API` };
  const mismatch = invoiceMismatch(claimed, actual);
  if (mismatch) return { ok: false, reason: mismatch };
  return {
    ok: true,
    invoiceId: actual.orderId,
    invoice: actual,
    event: {
      eventId: `bitfinex:${actual.id}:${actual.status}`,
      status: invoiceStatusToProviderStatus(actual.status),
      providerRef: actual.id,
      detail: `bitfinex invoice ${actual.status}`,
    },
  };
}
