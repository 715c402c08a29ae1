import type { InvoiceState } from '../workflows/definitions';

/**
 * One entry of a tenant's event log: an invoice transition or decision. `id` is stable (the same event recorded twice
 * is one), `sequence` counts the invoice's events from 1, `position` orders the tenant's whole log (the cursor of
 * `GET /v1/events`). `data.invoice` is the invoice's public state as of the event.
 */
export interface InvoiceEvent {
  id: string;
  type: string;
  tenant: string;
  invoiceId: string;
  sequence: number;
  position: number;
  occurredAt: string;
  data: { invoice: InvoiceState };
}

/** Hands freshly recorded events to the webhook deliveries (implemented in src/webhooks). */
export interface EventDispatcher {
  dispatch(events: readonly InvoiceEvent[]): Promise<void>;
}
