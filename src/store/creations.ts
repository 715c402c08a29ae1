import type { InvoiceState } from '../workflows/definitions';
import type { Store } from './database';

export interface Creation {
  tenant: string;
  invoiceId: string;
  workflowId: string;
  requestHash: string;
  startedAt?: string;
}

interface CreationRow {
  tenant: string;
  invoice_id: string;
  workflow_id: string;
  request_hash: string;
  started_at: Date | null;
}

const fromRow = (row: CreationRow): Creation => ({
  tenant: row.tenant,
  invoiceId: row.invoice_id,
  workflowId: row.workflow_id,
  requestHash: row.request_hash,
  ...(row.started_at ? { startedAt: row.started_at.toISOString() } : {}),
});

/**
 * Remembers an invoice id before its workflow is started, or returns what was remembered of it: the first create of
 * an id claims it, and every later one (a retry, or a reuse after Temporal's retention deleted the workflow) finds it.
 */
export async function claimCreation(
  store: Store,
  claim: Omit<Creation, 'startedAt'> & { initialState: InvoiceState },
): Promise<{ claimed: boolean; creation: Creation }> {
  const state = claim.initialState;
  const inserted = await store.query<CreationRow>(
    `INSERT INTO invoice_creations
       (tenant, invoice_id, workflow_id, request_hash, provider, direction, amount, currency, initial_state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (tenant, invoice_id) DO NOTHING
     RETURNING tenant, invoice_id, workflow_id, request_hash, started_at`,
    [
      claim.tenant,
      claim.invoiceId,
      claim.workflowId,
      claim.requestHash,
      state.provider,
      state.direction,
      state.amount,
      state.currency,
      JSON.stringify(state),
    ],
  );
  if (inserted[0]) return { claimed: true, creation: fromRow(inserted[0]) };
  const [existing] = await store.query<CreationRow>(
    'SELECT tenant, invoice_id, workflow_id, request_hash, started_at FROM invoice_creations WHERE tenant = $1 AND invoice_id = $2',
    [claim.tenant, claim.invoiceId],
  );
  if (!existing) throw new Error(`invoice ${claim.invoiceId} was neither claimed nor found`);
  return { claimed: false, creation: fromRow(existing) };
}

/** Temporal accepted the start (or already held the workflow): from now on the id is answered from here. */
export async function markCreationStarted(store: Store, tenant: string, invoiceId: string): Promise<void> {
  await store.query(
    'UPDATE invoice_creations SET started_at = now() WHERE tenant = $1 AND invoice_id = $2 AND started_at IS NULL',
    [tenant, invoiceId],
  );
}

/** The invoice as it was last recorded: its newest event's state, else the state it was created in. */
export async function lastKnownState(
  store: Store,
  tenant: string,
  invoiceId: string,
): Promise<InvoiceState | undefined> {
  const [event] = await store.query<{ data: { invoice: InvoiceState } }>(
    'SELECT data FROM events WHERE tenant = $1 AND invoice_id = $2 ORDER BY sequence DESC LIMIT 1',
    [tenant, invoiceId],
  );
  if (event) return event.data.invoice;
  const [creation] = await store.query<{ initial_state: InvoiceState }>(
    'SELECT initial_state FROM invoice_creations WHERE tenant = $1 AND invoice_id = $2',
    [tenant, invoiceId],
  );
  return creation?.initial_state;
}
