import { isFinalStatus, type InvoiceStatus } from '../../src/domain/constants';
import type { Store } from '../../src/store/database';
import { eventually } from './wait';

export interface LoggedEvent {
  id: string;
  invoiceId: string;
  sequence: number;
  status: InvoiceStatus;
}

/**
 * The events the log holds for these invoices, once each one's last recorded event is its final status (the final one
 * is recorded as the workflow ends, a moment after the invoice answers with it).
 */
export function loggedEvents(store: Store, tenant: string, invoiceIds: readonly string[]): Promise<LoggedEvent[]> {
  return eventually(async () => {
    const rows = await store.query<{ id: string; invoice_id: string; sequence: number; status: InvoiceStatus }>(
      `SELECT id, invoice_id, sequence, data->'invoice'->>'status' AS status FROM events
        WHERE tenant = $1 AND invoice_id = ANY($2::text[]) ORDER BY invoice_id, sequence`,
      [tenant, invoiceIds],
    );
    const events = rows.map((row) => ({
      id: row.id,
      invoiceId: row.invoice_id,
      sequence: Number(row.sequence),
      status: row.status,
    }));
    const ended = invoiceIds.every((invoiceId) => {
      const last = events.filter((event) => event.invoiceId === invoiceId).at(-1);
      return last !== undefined && isFinalStatus(last.status);
    });
    return ended ? events : undefined;
  }, 60_000);
}
