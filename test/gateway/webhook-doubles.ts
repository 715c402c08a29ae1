import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ProviderEventSchema } from '../../src/domain/invoice';
import type { InvoiceLookup, WebhookRoute } from '../../src/providers/types';

export const WEBHOOK_SECRET = 'whsec_test';

export function sign(rawBody: string, secret = WEBHOOK_SECRET): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

const BodySchema = ProviderEventSchema.extend({
  invoiceId: z.string().optional(),
  transactionId: z.string().optional(),
});

/** A provider's webhook route as the gateway sees it: HMAC over the raw body, our id or the provider's reference. */
export function testRoute(path: string, delivery: WebhookRoute['delivery']): WebhookRoute & { verified: number } {
  const route = {
    path,
    delivery,
    verified: 0,
    async verify({ rawBody, body, headers }: Parameters<WebhookRoute['verify']>[0]) {
      const presented = Buffer.from(headers['x-test-signature'] ?? '', 'hex');
      const expected = Buffer.from(sign(rawBody), 'hex');
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        return { ok: false as const, status: 401 as const, reason: 'bad_signature' };
      }
      const parsed = BodySchema.safeParse(body);
      if (!parsed.success) return { ok: false as const, status: 400 as const, reason: 'malformed' };
      route.verified++;
      const { invoiceId, transactionId, ...event } = parsed.data;
      const invoice: InvoiceLookup | undefined = invoiceId
        ? { invoiceId }
        : transactionId
          ? { providerRef: { key: 'transactionId', value: transactionId } }
          : undefined;
      if (!invoice) return { ok: false as const, status: 422 as const, reason: 'names no invoice' };
      // The fake provider's submit hands each invoice the reference tx-<invoiceId>.
      const ref = { key: 'transactionId', value: transactionId ?? `tx-${invoiceId ?? ''}` };
      return { ok: true as const, event: { ...event, ref }, invoice };
    },
    answer(verdict: Parameters<WebhookRoute['answer']>[0]) {
      // Like Xprizo: no verdict yet means no answer at all, so the provider retries instead of voiding.
      if (verdict === 'undecided') return { status: 0, body: null };
      return { status: 200, body: verdict === 'delivered' ? { received: true } : { verdict } };
    },
  };
  return route;
}
