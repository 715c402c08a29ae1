import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Queryable, Store } from '../store/database';
import type { PayloadEncryptionKey } from '../temporal/encryption-keys';
import { newWebhookSecret, openSecret, sealSecret } from './secrets';

/**
 * A tenant's webhook endpoints and their secrets in the store. `failing` is set when a delivery gave up after its
 * retries; deliveries go on (the receiver may come back) and the next success clears it. `disabled` stops them.
 */
export const ENDPOINT_STATUSES = ['enabled', 'disabled', 'failing'] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

/** Every event type, now and later. */
export const ALL_EVENT_TYPES = '*';

export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  eventTypes: string[];
  status: EndpointStatus;
  failingSince?: string;
  createdAt: string;
  updatedAt: string;
}

const EndpointRowSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  url: z.string(),
  event_types: z.array(z.string()),
  status: z.enum(ENDPOINT_STATUSES),
  failing_since: z.date().nullable(),
  created_at: z.date(),
  updated_at: z.date(),
});

function toEndpoint(row: unknown): WebhookEndpoint {
  const parsed = EndpointRowSchema.parse(row);
  return {
    id: parsed.id,
    tenant: parsed.tenant,
    url: parsed.url,
    eventTypes: parsed.event_types,
    status: parsed.status,
    ...(parsed.failing_since ? { failingSince: parsed.failing_since.toISOString() } : {}),
    createdAt: parsed.created_at.toISOString(),
    updatedAt: parsed.updated_at.toISOString(),
  };
}

const COLUMNS = 'id, tenant, url, event_types, status, failing_since, created_at, updated_at';

export function subscribes(endpoint: Pick<WebhookEndpoint, 'eventTypes'>, type: string): boolean {
  return endpoint.eventTypes.includes(ALL_EVENT_TYPES) || endpoint.eventTypes.includes(type);
}

function newId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

async function addSecret(tx: Queryable, keys: readonly PayloadEncryptionKey[], endpointId: string): Promise<string> {
  const secret = newWebhookSecret();
  await tx.query('INSERT INTO webhook_secrets (endpoint_id, id, ciphertext) VALUES ($1, $2, $3)', [
    endpointId,
    newId('sec_'),
    sealSecret(keys, endpointId, secret),
  ]);
  return secret;
}

export interface EndpointRepository {
  create(input: { tenant: string; url: string; eventTypes: string[] }): Promise<{
    endpoint: WebhookEndpoint;
    secret: string;
  }>;
  list(tenant: string): Promise<WebhookEndpoint[]>;
  find(tenant: string, id: string): Promise<WebhookEndpoint | undefined>;
  /** Any tenant's: for the deliveries, which carry only the endpoint's id. */
  byId(id: string): Promise<WebhookEndpoint | undefined>;
  update(
    tenant: string,
    id: string,
    patch: { status?: 'enabled' | 'disabled'; url?: string; eventTypes?: string[] },
  ): Promise<WebhookEndpoint | undefined>;
  remove(tenant: string, id: string): Promise<boolean>;
  /** A new secret; the ones active until now stay active for `expireCurrentInSeconds` more. */
  rotateSecret(tenant: string, id: string, expireCurrentInSeconds: number): Promise<string | undefined>;
  /** The secrets deliveries are signed with now, newest first, in plain text: never log nor return them. */
  activeSecrets(endpointId: string): Promise<string[]>;
  /** The endpoints of the tenant that deliveries go to (enabled or failing). */
  receiving(tenant: string): Promise<WebhookEndpoint[]>;
}

export function endpointRepository(store: Store, keys: readonly PayloadEncryptionKey[]): EndpointRepository {
  return {
    create: ({ tenant, url, eventTypes }) =>
      store.transaction(async (tx) => {
        const id = newId('we_');
        const [row] = await tx.query(
          `INSERT INTO webhook_endpoints (id, tenant, url, event_types, status) VALUES ($1, $2, $3, $4, 'enabled')
           RETURNING ${COLUMNS}`,
          [id, tenant, url, eventTypes],
        );
        const secret = await addSecret(tx, keys, id);
        return { endpoint: toEndpoint(row), secret };
      }),

    async list(tenant) {
      const rows = await store.query(
        `SELECT ${COLUMNS} FROM webhook_endpoints WHERE tenant = $1 ORDER BY created_at, id`,
        [tenant],
      );
      return rows.map(toEndpoint);
    },

    async find(tenant, id) {
      const [row] = await store.query(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE tenant = $1 AND id = $2`, [
        tenant,
        id,
      ]);
      return row ? toEndpoint(row) : undefined;
    },

    async byId(id) {
      const [row] = await store.query(`SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = $1`, [id]);
      return row ? toEndpoint(row) : undefined;
    },

    async update(tenant, id, patch) {
      // Enabling by hand is the operator saying the receiver is back: the failing mark goes with it.
      const [row] = await store.query(
        `UPDATE webhook_endpoints SET
           url = COALESCE($3, url),
           event_types = COALESCE($4, event_types),
           status = COALESCE($5, status),
           failing_since = CASE WHEN $5::text IS NULL THEN failing_since ELSE NULL END,
           updated_at = now()
         WHERE tenant = $1 AND id = $2
         RETURNING ${COLUMNS}`,
        [tenant, id, patch.url ?? null, patch.eventTypes ?? null, patch.status ?? null],
      );
      return row ? toEndpoint(row) : undefined;
    },

    async remove(tenant, id) {
      const rows = await store.query('DELETE FROM webhook_endpoints WHERE tenant = $1 AND id = $2 RETURNING id', [
        tenant,
        id,
      ]);
      return rows.length > 0;
    },

    rotateSecret: (tenant, id, expireCurrentInSeconds) =>
      store.transaction(async (tx) => {
        // The row lock orders concurrent rotations of one endpoint.
        const [owned] = await tx.query('SELECT id FROM webhook_endpoints WHERE tenant = $1 AND id = $2 FOR UPDATE', [
          tenant,
          id,
        ]);
        if (!owned) return undefined;
        await tx.query(
          `UPDATE webhook_secrets
             SET expires_at = LEAST(COALESCE(expires_at, 'infinity'::timestamptz), now() + make_interval(secs => $2))
           WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now())`,
          [id, expireCurrentInSeconds],
        );
        return addSecret(tx, keys, id);
      }),

    async activeSecrets(endpointId) {
      const rows = await store.query<{ ciphertext: string }>(
        `SELECT ciphertext FROM webhook_secrets
          WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now())
          ORDER BY created_at DESC, id`,
        [endpointId],
      );
      return rows.map((row) => openSecret(keys, endpointId, z.string().parse(row.ciphertext)));
    },

    async receiving(tenant) {
      const rows = await store.query(
        `SELECT ${COLUMNS} FROM webhook_endpoints WHERE tenant = $1 AND status IN ('enabled', 'failing')`,
        [tenant],
      );
      return rows.map(toEndpoint);
    },
  };
}
