import type { InvoiceState } from '../workflows/definitions';
import { INVOICE_STATUSES, type InvoiceStatus } from './constants';

/** The event of a transition into `status`: `invoice.completed`, `invoice.awaiting_approval`, ... */
export function transitionEventType(status: InvoiceStatus): `invoice.${Lowercase<InvoiceStatus>}` {
  return `invoice.${status.toLowerCase() as Lowercase<InvoiceStatus>}`;
}

/**
 * Events that are decisions or side effects rather than transitions: a principal's approval while more are needed, a
 * cancellation refused past the point of no return, a completion by hand asked for and how it ended, each undo at the
 * provider, and an operator's resolution of a review. Subscribers switch on these names: never rename one.
 */
export const DECISION_EVENT_TYPES = [
  'invoice.approval_recorded',
  'invoice.cancel_refused',
  'invoice.forced_completion_requested',
  'invoice.forced_completion_completed',
  'invoice.forced_completion_failed',
  'invoice.compensation_done',
  'invoice.compensation_failed',
  'invoice.review_resolved',
] as const;

/** Every type an event of the log can have: one per invoice status, then the decisions. */
export const INVOICE_EVENT_TYPES = [...INVOICE_STATUSES.map(transitionEventType), ...DECISION_EVENT_TYPES] as const;
export type InvoiceEventType = ReturnType<typeof transitionEventType> | (typeof DECISION_EVENT_TYPES)[number];

/**
 * The tenant named in the log for an invoice started without one (an operator's single-tenant tools, the client library
 * used directly). A tenant id never holds `_` (see TenantIdSchema), so no principal's tenant can read these.
 */
export const UNTENANTED = '_untenanted';

/**
 * One entry of a tenant's event log: an invoice transition or decision. `id` is stable (the same event recorded twice
 * is one), `sequence` counts the invoice's events from 1, `position` orders the tenant's whole log (the cursor of
 * `GET /v1/events`). `data.invoice` is the invoice's public state as of the event.
 */
export interface InvoiceEvent {
  id: string;
  /** One of INVOICE_EVENT_TYPES; a string here so a reader of the log keeps working when a later release adds one. */
  type: string;
  tenant: string;
  invoiceId: string;
  sequence: number;
  position: number;
  occurredAt: string;
  data: { invoice: InvoiceState };
}

/** An event as the invoice hands it to the log: the log gives it its position. */
export type NewInvoiceEvent = Omit<InvoiceEvent, 'position'>;

/** The stable id of an invoice's n-th event: recording it again (a retried activity, a replay) names the same event. */
export function invoiceEventId(tenant: string, invoiceId: string, sequence: number): string {
  return `evt:${tenant}:${invoiceId}:${sequence}`;
}

/** The local activity's argument: one invoice's events not yet recorded, in sequence order. */
export interface RecordInvoiceEventsInput {
  events: NewInvoiceEvent[];
}

/**
 * Events handed to a provider-step activity, which records them before its call: the workflow task that schedules the
 * step (an approval's, say) then ends without a local activity of its own, so nothing waits on the store to end it.
 */
export interface CarriedEvents {
  events?: NewInvoiceEvent[];
}

/**
 * A provider-step activity's answer when it could not record the events it carried: it did not run its step, so the
 * workflow records them the patient way (its recorder, retried until the store takes them) and asks again.
 */
export interface EventsNotRecorded {
  eventsNotRecorded: true;
}

export function eventsNotRecorded(result: object): result is EventsNotRecorded {
  return 'eventsNotRecorded' in result && result.eventsNotRecorded === true;
}

/** Hands freshly recorded events to the webhook deliveries (implemented in src/webhooks). */
export interface EventDispatcher {
  dispatch(events: readonly InvoiceEvent[]): Promise<void>;
}
