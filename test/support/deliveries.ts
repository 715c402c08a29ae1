import { driveSample, type PublicApi } from '../../src/dev/samples';
import type { InvoiceEvent } from '../../src/domain/events';
import type { InvoiceState } from '../../src/workflows/definitions';
import type { Store } from '../../src/store/database';
import { SIGNATURE_HEADER, verifyWebhook, type WebhookEvent } from '../../src/webhooks/signature';
import { TEST_KEYS } from './access';
import { uniqueId } from './requests';
import type { WebhookReceiver, ReceivedWebhook } from './webhook-receiver';

/** What `POST /v1/webhook-endpoints` answers. */
export interface CreatedEndpoint {
  id: string;
  url: string;
  eventTypes: string[];
  status: string;
  secret: string;
}

/** A JSON call to the gateway's service API under `key`; the body of the answer parsed, whatever its status. */
export async function callApi<T = unknown>(
  gatewayUrl: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * Deliveries retried within seconds, not hours. A killed worker's attempt is retried once its start-to-close timeout
 * (WEBHOOK_TIMEOUT_MS plus a margin) has passed. The request timeout leaves room for a receiver in the test's own busy
 * process: a 200 that comes after the sender gave up is sent again, which at-least-once delivery allows and the tests
 * that count deliveries do not.
 */
export const FAST_DELIVERY_ENV = {
  WEBHOOK_RETRY_INITIAL_SECONDS: '0.2',
  WEBHOOK_RETRY_MAX_INTERVAL_SECONDS: '1',
  WEBHOOK_GIVE_UP_AFTER_SECONDS: '300',
  WEBHOOK_TIMEOUT_MS: '5000',
} as const;

/** `POST /v1/webhook-endpoints` under the test service key: an endpoint at `url` for every event type. */
export function registerEndpoint(gatewayUrl: string, url: string) {
  return callApi<CreatedEndpoint>(gatewayUrl, TEST_KEYS.service, 'POST', '/v1/webhook-endpoints', {
    url,
    eventTypes: ['*'],
  });
}

/** `count` sample pay-ins, alfred and Xprizo by turns, each driven through the gateway to its end. */
export function driveInvoices(
  api: PublicApi,
  prefix: string,
  count: number,
  timeoutMs: number,
): { invoiceIds: string[]; finals: Promise<InvoiceState[]> } {
  const invoiceIds = Array.from({ length: count }, (_, index) => uniqueId(`${prefix}${index}`));
  const finals = Promise.all(
    invoiceIds.map((invoiceId, index) =>
      driveSample(api, { invoiceId, provider: index % 2 ? 'xprizo' : 'alfred', direction: 'pay_in' }, timeoutMs),
    ),
  );
  return { invoiceIds, finals };
}

/**
 * Records an invoice's events the way the event log does (the next tenant positions, one row each), so deliveries
 * can be driven before a real invoice records them. Returns them with their positions, as the dispatcher gets them.
 */
export async function recordEvents(
  store: Store,
  tenant: string,
  invoiceId: string,
  statuses: readonly string[],
  firstSequence = 1,
): Promise<InvoiceEvent[]> {
  return store.transaction(async (tx) => {
    const [row] = await tx.query<{ last_position: string }>(
      `INSERT INTO tenant_event_positions (tenant, last_position) VALUES ($1, $2)
       ON CONFLICT (tenant) DO UPDATE SET last_position = tenant_event_positions.last_position + $2
       RETURNING last_position`,
      [tenant, statuses.length],
    );
    const last = Number(row?.last_position);
    const events: InvoiceEvent[] = statuses.map((status, index) => {
      const sequence = firstSequence + index;
      return {
        id: `evt:${tenant}:${invoiceId}:${sequence}`,
        type: `invoice.${status.toLowerCase()}`,
        tenant,
        invoiceId,
        sequence,
        position: last - statuses.length + index + 1,
        occurredAt: new Date().toISOString(),
        data: {
          invoice: {
            invoiceId,
            provider: 'payone',
            direction: 'pay_in',
            amount: 1000 + sequence,
            currency: 'EUR',
            customerId: 'cust-1',
            status,
            transitions: [],
            providerRefs: {},
            compensations: [],
          } as unknown as InvoiceEvent['data']['invoice'],
        },
      };
    });
    for (const event of events) {
      await tx.query(
        `INSERT INTO events (id, tenant, position, invoice_id, sequence, type, occurred_at, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          event.id,
          tenant,
          event.position,
          invoiceId,
          event.sequence,
          event.type,
          event.occurredAt,
          JSON.stringify(event.data),
        ],
      );
    }
    return events;
  });
}

/** A delivery as the receiver saw it, its answer, and the event its (verified) body holds. */
export interface Delivery {
  hook: ReceivedWebhook;
  status: number;
  eventId: string;
}

/**
 * A receiver that answers 500 to its first `failFirst` requests and 200 after (or what `answer` says), and keeps what
 * it answered beside each request, so a test can tell accepted deliveries from refused ones.
 */
export function deliveryLog(receiver: WebhookReceiver, options: { failFirst?: number; delayMs?: number } = {}) {
  const deliveries: Delivery[] = [];
  let seen = 0;
  let refuse: (hook: ReceivedWebhook) => boolean = () => false;
  receiver.successBody = '';
  receiver.answer = async (hook) => {
    seen += 1;
    const status = seen <= (options.failFirst ?? 0) || refuse(hook) ? 500 : 200;
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    deliveries.push({ hook, status, eventId: String(hook.headers['payorch-event-id']) });
    return status;
  };
  return {
    deliveries,
    /** From now on, refuse the requests this says to (the endpoint is down for them). */
    refuseWhen(predicate: (hook: ReceivedWebhook) => boolean) {
      refuse = predicate;
    },
    accepted: () => deliveries.filter((delivery) => delivery.status === 200),
    distinctAccepted: () => new Set(deliveries.filter((d) => d.status === 200).map((d) => d.eventId)),
    /** The events accepted more than once, each named once. */
    repeatedAccepted: () => {
      const ids = deliveries.filter((d) => d.status === 200).map((d) => d.eventId);
      return [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
    },
  };
}

/** The event in a delivery, verified with `secrets` the way a receiver would (throws if it does not verify). */
export function verified(hook: ReceivedWebhook, secrets: readonly string[]): WebhookEvent {
  return verifyWebhook(hook.rawBody, hook.headers[SIGNATURE_HEADER.toLowerCase()], secrets);
}
