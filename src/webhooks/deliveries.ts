import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Config } from '../config';
import type { Queryable, Store } from '../store/database';
import { DEFAULT_DELIVERY_POLICY, type DeliveryPolicy } from '../workflows/delivery-definitions';
import type { InvoiceEvent } from '../domain/events';
import { bareHost, DestinationNotAllowedError, resolveDestination } from './destination';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signWebhook } from './signature';

/** pending → delivered | failed (retries ran out; replay from the log) | cancelled (the endpoint went away). */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled';

export function deliveryPolicy(config: Config | undefined): DeliveryPolicy {
  if (!config) return DEFAULT_DELIVERY_POLICY;
  const { webhooks } = config;
  return {
    ...DEFAULT_DELIVERY_POLICY,
    initialIntervalSeconds: webhooks.retryInitialSeconds,
    maximumIntervalSeconds: webhooks.retryMaxIntervalSeconds,
    giveUpAfterSeconds: webhooks.giveUpAfterSeconds,
    requestTimeoutMs: webhooks.timeoutMs,
  };
}

export async function deliveryStatus(
  store: Queryable,
  endpointId: string,
  eventId: string,
): Promise<DeliveryStatus | undefined> {
  const [row] = await store.query<{ status: DeliveryStatus }>(
    'SELECT status FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2',
    [endpointId, eventId],
  );
  return row?.status;
}

/** One row per (endpoint, event) before its workflow hears of it; a repeated dispatch changes nothing. */
export async function addPendingDeliveries(
  store: Queryable,
  deliveries: readonly { endpointId: string; eventId: string }[],
): Promise<void> {
  if (!deliveries.length) return;
  await store.query(
    `INSERT INTO webhook_deliveries (endpoint_id, event_id, status)
     SELECT endpoint_id, event_id, 'pending' FROM unnest($1::text[], $2::text[]) AS d (endpoint_id, event_id)
     ON CONFLICT DO NOTHING`,
    [deliveries.map((d) => d.endpointId), deliveries.map((d) => d.eventId)],
  );
}

export interface AttemptRecord {
  endpointId: string;
  eventId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode?: number;
  error?: string;
  ok: boolean;
}

/** The attempt, and the delivery's count and status with it; a success also clears the endpoint's failing mark. */
export function recordAttempt(store: Store, attempt: AttemptRecord): Promise<void> {
  return store.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, started_at, duration_ms, status_code, error, ok)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        attempt.endpointId,
        attempt.eventId,
        attempt.attempt,
        attempt.startedAt,
        attempt.durationMs,
        attempt.statusCode ?? null,
        attempt.error ?? null,
        attempt.ok,
      ],
    );
    await tx.query(
      `INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempts) VALUES ($1, $2, $3, 1)
       ON CONFLICT (endpoint_id, event_id) DO UPDATE
         SET attempts = webhook_deliveries.attempts + 1,
             status = CASE WHEN $3 = 'delivered' THEN 'delivered' ELSE webhook_deliveries.status END,
             updated_at = now()`,
      [attempt.endpointId, attempt.eventId, attempt.ok ? 'delivered' : 'pending'],
    );
    if (attempt.ok) {
      await tx.query(
        `UPDATE webhook_endpoints SET status = 'enabled', failing_since = NULL, updated_at = now()
          WHERE id = $1 AND status = 'failing'`,
        [attempt.endpointId],
      );
    }
  });
}

/** Retries ran out: the delivery is failed (the event stays in the log) and the endpoint is marked failing. */
export function markGivenUp(store: Store, endpointId: string, eventId: string): Promise<void> {
  return store.transaction(async (tx) => {
    await tx.query(
      `UPDATE webhook_deliveries SET status = 'failed', updated_at = now()
        WHERE endpoint_id = $1 AND event_id = $2 AND status = 'pending'`,
      [endpointId, eventId],
    );
    await tx.query(
      `UPDATE webhook_endpoints SET status = 'failing', failing_since = COALESCE(failing_since, now()), updated_at = now()
        WHERE id = $1 AND status = 'enabled'`,
      [endpointId],
    );
  });
}

/** The endpoint was disabled or deleted: what was waiting for it will not be sent. */
export async function cancelPending(store: Queryable, endpointId: string): Promise<void> {
  await store.query(
    `UPDATE webhook_deliveries SET status = 'cancelled', updated_at = now()
      WHERE endpoint_id = $1 AND status = 'pending'`,
    [endpointId],
  );
}

export interface SendResult {
  statusCode?: number;
  /** Why no status came back (timeout, refused connection); never the URL, which may carry credentials. */
  error?: string;
  ok: boolean;
  /** The endpoint points where it may not (WEBHOOK_PRIVATE_DESTINATIONS=refuse): no retry will change that. */
  refused?: boolean;
  durationMs: number;
}

/**
 * One signed POST to the address the destination check resolved. Redirects are not followed: a 3xx is an answer
 * other than success, like a 4xx. The status decides; the answer's body is drained unread.
 */
export async function sendEvent(options: {
  url: string;
  event: InvoiceEvent;
  secrets: readonly string[];
  timeoutMs: number;
  allowPrivate: boolean;
  now?: () => number;
}): Promise<SendResult> {
  const now = options.now ?? Date.now;
  const body = JSON.stringify(options.event);
  const started = now();
  const url = new URL(options.url);
  try {
    const target = await resolveDestination(url, options.allowPrivate);
    const secure = url.protocol === 'https:';
    const host = bareHost(url);
    const statusCode = await new Promise<number>((resolve, reject) => {
      let answered = false;
      const request = (secure ? https : http).request(
        {
          host: target.address,
          family: target.family,
          port: url.port || (secure ? 443 : 80),
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          // The certificate is checked against the endpoint's name, not the address connected to.
          ...(secure && isIP(host) === 0 ? { servername: host } : {}),
          ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
          headers: {
            host: url.host,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'payment-orchestrator-webhooks/1',
            [SIGNATURE_HEADER]: signWebhook(body, options.secrets, Math.floor(started / 1000)),
            [EVENT_ID_HEADER]: options.event.id,
            [EVENT_TYPE_HEADER]: options.event.type,
          },
        },
        (response) => {
          answered = true;
          clearTimeout(deadline);
          response.resume();
          response.on('error', () => undefined);
          resolve(response.statusCode ?? 0);
        },
      );
      // A process that stalled past the deadline runs its timers before it reads what its sockets received meanwhile:
      // the timeout yields one turn of the event loop, so an answer that came in time is not taken for none (and the
      // event sent again).
      const deadline = setTimeout(
        () =>
          setImmediate(() => {
            if (!answered) request.destroy(new DOMException('the endpoint did not answer in time', 'TimeoutError'));
          }),
        options.timeoutMs,
      );
      request.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      request.end(body);
    });
    return { statusCode, ok: statusCode >= 200 && statusCode < 300, durationMs: now() - started };
  } catch (error) {
    const refused = error instanceof DestinationNotAllowedError;
    return {
      error: refused ? error.message : describeFailure(error, options.timeoutMs),
      ok: false,
      ...(refused ? { refused } : {}),
      durationMs: now() - started,
    };
  }
}

function describeFailure(error: unknown, timeoutMs: number): string {
  // Read by shape: Node's own errors need not be instances of this realm's Error (jest's sandbox, for one).
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'ABORT_ERR')
    return `no answer within ${timeoutMs} ms`;
  if (typeof code === 'string') return code;
  return typeof name === 'string' ? name : 'request failed';
}

export interface WebhookAttempt {
  id: string;
  eventId: string;
  attempt: number;
  startedAt: string;
  durationMs: number;
  statusCode?: number;
  error?: string;
  ok: boolean;
}

const AttemptRowSchema = z.object({
  id: z.coerce.string(),
  event_id: z.string(),
  attempt: z.number().int(),
  started_at: z.date(),
  duration_ms: z.number().int(),
  status_code: z.number().int().nullable(),
  error: z.string().nullable(),
  ok: z.boolean(),
});

/** An endpoint's attempts, oldest first, after the cursor `after` (the id of the last one a page gave). */
export async function listAttempts(
  store: Queryable,
  endpointId: string,
  page: { after?: string; limit: number },
): Promise<WebhookAttempt[]> {
  const rows = await store.query(
    `SELECT id, event_id, attempt, started_at, duration_ms, status_code, error, ok FROM webhook_attempts
      WHERE endpoint_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [endpointId, page.after ?? '0', page.limit],
  );
  return rows.map((row) => {
    const parsed = AttemptRowSchema.parse(row);
    return {
      id: parsed.id,
      eventId: parsed.event_id,
      attempt: parsed.attempt,
      startedAt: parsed.started_at.toISOString(),
      durationMs: parsed.duration_ms,
      ...(parsed.status_code === null ? {} : { statusCode: parsed.status_code }),
      ...(parsed.error === null ? {} : { error: parsed.error }),
      ok: parsed.ok,
    };
  });
}
