import { z } from 'zod';
import type { InvoiceEvent, NewInvoiceEvent } from '../domain/events';
import { InvoiceStatusSchema } from '../domain/invoice';
import type { Queryable, Store } from '../store/database';
import type { InvoiceState } from '../workflows/definitions';

/** The invoice state an event carries: its key fields are checked, the rest is the workflow's own shape. */
const isInvoiceState = (value: unknown): value is InvoiceState =>
  z
    .looseObject({ invoiceId: z.string(), status: InvoiceStatusSchema, transitions: z.array(z.unknown()) })
    .safeParse(value).success;
const InvoiceSnapshotSchema = z.custom<InvoiceState>(isInvoiceState, 'an invoice state');

/** An event as a workflow hands it over (the local activity's input): checked before anything is written. */
export const NewInvoiceEventSchema = z.object({
  id: z.string().min(1).max(300),
  type: z.string().regex(/^invoice\.[a-z_]+$/),
  tenant: z.string().min(1).max(64),
  invoiceId: z.string().min(1).max(200),
  sequence: z.number().int().positive(),
  occurredAt: z.iso.datetime(),
  data: z.object({ invoice: InvoiceSnapshotSchema }),
}) satisfies z.ZodType<NewInvoiceEvent>;

/** A row of `events` as pg returns it: bigint as a string, timestamptz as a Date, jsonb parsed. */
const EventRowSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  position: z.coerce.number().int().positive(),
  invoice_id: z.string(),
  sequence: z.coerce.number().int().positive(),
  type: z.string(),
  occurred_at: z.coerce.date(),
  data: z.object({ invoice: InvoiceSnapshotSchema }),
});

function eventOf(row: unknown): InvoiceEvent {
  const parsed = EventRowSchema.parse(row);
  return {
    id: parsed.id,
    type: parsed.type,
    tenant: parsed.tenant,
    invoiceId: parsed.invoice_id,
    sequence: parsed.sequence,
    position: parsed.position,
    occurredAt: parsed.occurred_at.toISOString(),
    data: parsed.data,
  };
}

const EVENT_COLUMNS = 'id, tenant, position, invoice_id, sequence, type, occurred_at, data';

export interface RecordedEvents {
  /** Every event handed in, with its position: the ones recorded now and the ones the log held already. */
  events: InvoiceEvent[];
  /** How many were new. */
  inserted: number;
}

/**
 * Records events idempotently: an event whose (tenant, invoice, sequence) the log holds is left as it is, so a retried
 * recording changes nothing. New events take the tenant's next positions while its `tenant_event_positions` row is
 * locked, and the lock is held to the commit: a reader paging by position can never see a later position before an
 * earlier one has committed, so "after N" never skips an event that commits late.
 */
export async function recordEvents(store: Store, events: readonly NewInvoiceEvent[]): Promise<RecordedEvents> {
  if (events.length === 0) return { events: [], inserted: 0 };
  const byTenant = new Map<string, NewInvoiceEvent[]>();
  for (const event of events) byTenant.set(event.tenant, [...(byTenant.get(event.tenant) ?? []), event]);
  return store.transaction(async (tx) => {
    let inserted = 0;
    const recorded = new Map<string, InvoiceEvent>();
    // Tenants locked in one order, so two recorders of several tenants cannot wait on each other.
    for (const tenant of [...byTenant.keys()].sort()) {
      const result = await recordTenantEvents(tx, tenant, byTenant.get(tenant) ?? []);
      inserted += result.inserted;
      for (const event of result.events) recorded.set(event.id, event);
    }
    const inOrder = events.map((event) => recorded.get(event.id));
    return { events: inOrder.filter((event): event is InvoiceEvent => event !== undefined), inserted };
  });
}

async function recordTenantEvents(
  tx: Queryable,
  tenant: string,
  events: readonly NewInvoiceEvent[],
): Promise<RecordedEvents> {
  // The upsert takes the row lock (also for a tenant's first event), which the transaction holds until it commits.
  const [locked] = await tx.query<{ last_position: string }>(
    `INSERT INTO tenant_event_positions (tenant, last_position) VALUES ($1, 0)
     ON CONFLICT (tenant) DO UPDATE SET last_position = tenant_event_positions.last_position
     RETURNING last_position`,
    [tenant],
  );
  const last = Number(locked?.last_position ?? 0);
  const held = (
    await tx.query(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE tenant = $1 AND (invoice_id, sequence) IN (SELECT * FROM unnest($2::text[], $3::int[]))`,
      [tenant, events.map((event) => event.invoiceId), events.map((event) => event.sequence)],
    )
  ).map(eventOf);
  const heldKeys = new Set(held.map((event) => `${event.invoiceId}\u0000${event.sequence}`));
  const fresh = events.filter((event) => !heldKeys.has(`${event.invoiceId}\u0000${event.sequence}`));
  // One batch may repeat an event (a caller's retry folded in): the first of each is the one recorded.
  const unique = [...new Map(fresh.map((event) => [`${event.invoiceId}\u0000${event.sequence}`, event])).values()];
  const added = unique.map((event, index): InvoiceEvent => ({ ...event, position: last + index + 1 }));
  if (added.length > 0) {
    const rows = await tx.query(
      `INSERT INTO events (id, tenant, position, invoice_id, sequence, type, occurred_at, data)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::text[],
                            $7::timestamptz[], $8::jsonb[])
       ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        added.map((event) => event.id),
        added.map((event) => event.tenant),
        added.map((event) => event.position),
        added.map((event) => event.invoiceId),
        added.map((event) => event.sequence),
        added.map((event) => event.type),
        added.map((event) => event.occurredAt),
        added.map((event) => JSON.stringify(event.data)),
      ],
    );
    // Under the lock nothing else records this tenant's events; a skipped row would leave a gap, so it is refused.
    if (rows.length !== added.length) {
      throw new Error(`event log: ${added.length - rows.length} of ${added.length} events collided; retry`);
    }
    await tx.query('UPDATE tenant_event_positions SET last_position = $2 WHERE tenant = $1', [
      tenant,
      last + added.length,
    ]);
  }
  return { events: [...held, ...added], inserted: added.length };
}

export interface EventPageQuery {
  /** The position of the last event already seen; 0 (the default) reads from the start. */
  after?: number;
  types?: readonly string[];
  invoiceId?: string;
  limit: number;
}

export interface EventPage {
  events: InvoiceEvent[];
  /** The position to read after next: the last event of this page, or `after` itself when the page is empty. */
  next: number;
  hasMore: boolean;
}

/** A tenant's events after a position, in position order, filtered by type and invoice. */
export async function pageEvents(store: Queryable, tenant: string, query: EventPageQuery): Promise<EventPage> {
  const after = query.after ?? 0;
  const params: unknown[] = [tenant, after];
  const where = ['tenant = $1', 'position > $2'];
  if (query.types?.length) {
    params.push([...query.types]);
    where.push(`type = ANY($${params.length}::text[])`);
  }
  if (query.invoiceId !== undefined) {
    params.push(query.invoiceId);
    where.push(`invoice_id = $${params.length}`);
  }
  // One more than asked: whether another page follows, without a count.
  params.push(query.limit + 1);
  const rows = await store.query(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY position LIMIT $${params.length}`,
    params,
  );
  const events = rows.slice(0, query.limit).map(eventOf);
  return { events, next: events.at(-1)?.position ?? after, hasMore: rows.length > query.limit };
}

/** One event by its id, whichever tenant's (the webhook deliveries carry only ids). */
export async function eventById(store: Queryable, id: string): Promise<InvoiceEvent | undefined> {
  const [row] = await store.query(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = $1`, [id]);
  return row ? eventOf(row) : undefined;
}
