// The delivery workflow's shared definitions: the dispatcher, the activities, the gateway and the workflow import
// them. Free of zod and Node built-ins: the workflow bundle includes this module.
import { defineSignal } from '@temporalio/workflow';

export const DELIVERY_WORKFLOW_TYPE = 'webhookDeliveryWorkflow';

/** One workflow per endpoint and invoice: the invoice's events reach that endpoint one after another, in order. */
export function deliveryWorkflowId(endpointId: string, invoiceKey: string): string {
  return `webhook-delivery/${endpointId}/${invoiceKey}`;
}

/** What the workflow knows of an event: ids only, so no event data (personal) and no secret is in its history. */
export interface EventRef {
  id: string;
  sequence: number;
}

export interface EventsRecorded {
  events: EventRef[];
  /** The invoice reached a final status in this batch: once these are delivered the workflow ends. */
  invoiceEnded: boolean;
}

export const eventsRecordedSignal = defineSignal<[EventsRecorded]>('eventsRecorded');

/** The retry schedule and timeouts, from config (WEBHOOK_*) when the dispatcher starts the workflow. */
export interface DeliveryPolicy {
  initialIntervalSeconds: number;
  maximumIntervalSeconds: number;
  /** How long one event is retried before the delivery is marked failed and the endpoint failing. */
  giveUpAfterSeconds: number;
  requestTimeoutMs: number;
  /** With nothing to deliver for this long (and the invoice not yet ended), the workflow ends; the next event restarts it. */
  idleSeconds: number;
}

/** Production's: the defaults of WEBHOOK_* (see src/config.ts). */
export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  initialIntervalSeconds: 30,
  maximumIntervalSeconds: 3_600,
  giveUpAfterSeconds: 4 * 24 * 3_600,
  requestTimeoutMs: 10_000,
  idleSeconds: 7 * 24 * 3_600,
};

export interface DeliveryWorkflowInput {
  endpointId: string;
  tenant: string;
  invoiceId: string;
  policy: DeliveryPolicy;
  /** Carried over by continue-as-new. */
  pending?: EventRef[];
  /** The highest sequence already delivered or given up on: an event at or below it is a repeat. */
  handledThrough?: number;
  invoiceEnded?: boolean;
  /** The earlier runs' tally, so the last run's result counts the whole delivery. */
  tally?: { delivered: number; failed: number };
  /** History events after which the workflow continues as new (default 2,000; tests make it small). */
  historyBudgetEvents?: number;
}

export interface DeliveryWorkflowResult {
  delivered: number;
  failed: number;
  /** Why it ended: the invoice's last event was handled, nothing came for idleSeconds, or the endpoint went away. */
  ended: 'invoice_ended' | 'idle' | 'endpoint_disabled' | 'endpoint_deleted';
}

export interface DeliverEventInput {
  endpointId: string;
  eventId: string;
}

export interface DeliverEventResult {
  outcome: 'delivered' | 'already_delivered' | 'endpoint_disabled' | 'endpoint_deleted';
  statusCode?: number;
}

/** The stable failure types of the delivery activities (retry policies and the UI see these). */
export const DELIVERY_FAILURES = {
  /** The endpoint answered other than 2xx, or not within the timeout: retried. */
  failed: 'WebhookDeliveryFailed',
  /** The event is not in the log (a dispatch of an event never recorded): retrying cannot help. */
  eventMissing: 'WebhookEventMissing',
  /** The endpoint resolves to a private or reserved address where those are refused: given up at once. */
  notAllowed: 'WebhookDestinationNotAllowed',
} as const;
