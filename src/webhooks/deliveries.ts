import { z } from 'zod';
import type { Config } from '../config';
import type { Queryable, Store } from '../store/database';
import { DEFAULT_DELIVERY_POLICY, type DeliveryPolicy } from '../workflows/delivery-definitions';
import type { InvoiceEvent } from '../domain/events';
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
  durationMs: number;
}

/** One signed POST. Redirects are not followed: a 3xx is an answer other than success, like a 4xx. */
export async function sendEvent(options: {
  url: string;
  /** The body: the event exactly as the log and `GET /v1/events` give it. */
  event: InvoiceEvent;
  secrets: readonly string[];
  timeoutMs: number;
  now?: () => number;
}): Promise<SendResult> {
  const now = options.now ?? Date.now;
  const body = JSON.stringify(options.event);
  const started = now();
  try {
    const response = await fetch(options.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'payment-orchestrator-webhooks/1',
        [SIGNATURE_HEADER]: signWebhook(body, options.secrets, Math.floor(started / 1000)),
        [EVENT_ID_HEADER]: options.event.id,
        [EVENT_TYPE_HEADER]: options.event.type,
      },
      body,
    });
    // The answer's body is of no interest; reading it to the end frees the connection for the next delivery.
    await response.arrayBuffer().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    return { statusCode: response.status, ok, durationMs: now() - started };
  } catch (error) {
    return { error: describeFailure(error, options.timeoutMs), ok: false, durationMs: now() - started };
  }
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause && typeof cause === 'object' && 'code' in cause ? cause.code : undefined;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'request failed';
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
