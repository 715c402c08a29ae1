import type { ProviderEvent } from '../../workflows/definitions';
import { BITFINEX_REFS } from './adapter';
import type { BitfinexClient } from './client';
import { amountToMinor, invoiceStatusToProviderStatus, sameAmount } from './mapping';
import { InvoiceSchema, type BitfinexInvoice } from './schemas';

/**
 * What the gateway makes of a Bitfinex webhook without calling Bitfinex: only that the body has an invoice's shape, and
 * which of our invoices it names (the orderId is our invoice's reference). Its status is a hint for the logs; the
 * invoice's workflow fetches the invoice through the rate-limited queue and acts on what the API says.
 */
export function readBitfinexWebhook(
  body: unknown,
): { ok: true; invoiceId: string; event: ProviderEvent } | { ok: false; reason: string } {
  const parsed = InvoiceSchema.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'not a Bitfinex invoice' };
  const claimed = parsed.data;
  return {
    ok: true,
    invoiceId: claimed.orderId,
    event: {
      eventId: `bitfinex:${claimed.id}:${claimed.status}`,
      provider: 'bitfinex',
      status: invoiceStatusToProviderStatus(claimed.status),
      ref: { key: BITFINEX_REFS.invoiceId, value: claimed.id },
      detail: `bitfinex webhook claims ${claimed.status}`,
    },
  };
}

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
 * believed only if id, status, amount, currency and orderId all agree. The orderId is our invoiceId. Every status the
 * event carries, EXPIRED included, is thereby the API's own word, never the body's.
 */
export async function verifyBitfinexWebhook(
  body: unknown,
  client: Pick<BitfinexClient, 'getInvoice'>,
): Promise<BitfinexVerification> {
  const parsed = InvoiceSchema.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'not a Bitfinex invoice' };
  const claimed = parsed.data;
  const actual = await client.getInvoice(claimed.id);
  if (!actual) return { ok: false, reason: `invoice ${claimed.id} unknown to the API` };
  const mismatch = invoiceMismatch(claimed, actual);
  if (mismatch) return { ok: false, reason: mismatch };
  // The invoice's own amount and currency (what we asked for), not what the customer paid in crypto.
  const minor = amountToMinor(actual.amount, actual.currency);
  return {
    ok: true,
    invoiceId: actual.orderId,
    invoice: actual,
    event: {
      eventId: `bitfinex:${actual.id}:${actual.status}`,
      provider: 'bitfinex',
      status: invoiceStatusToProviderStatus(actual.status),
      ref: { key: BITFINEX_REFS.invoiceId, value: actual.id },
      ...(minor === undefined ? {} : { money: { amount: minor, currency: actual.currency } }),
      detail: `bitfinex invoice ${actual.status}`,
    },
  };
}
