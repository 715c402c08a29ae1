import type { ProviderEvent } from '../../workflows/definitions';
import { BITFINEX_REFS } from './adapter';
import { invoiceStatusToProviderStatus } from './mapping';
import { InvoiceSchema } from './schemas';

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
