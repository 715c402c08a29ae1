import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { isFinalStatus } from '../domain/constants';
import type { EventDispatcher, InvoiceEvent } from '../domain/events';
import type { Logger } from '../logger';
import type { Store } from '../store/database';
import {
  DEFAULT_DELIVERY_POLICY,
  DELIVERY_WORKFLOW_TYPE,
  deliveryWorkflowId,
  eventsRecordedSignal,
  type DeliveryWorkflowInput,
  type EventsRecorded,
} from '../workflows/delivery-definitions';
import { TASK_QUEUES, tenantInvoiceKey } from '../workflows/definitions';
import type { webhookDeliveryWorkflow } from '../workflows/delivery-workflow';
import { addPendingDeliveries, deliveryPolicy } from './deliveries';
import { endpointRepository, subscribes, type WebhookEndpoint } from './endpoints';

/**
 * Starts (or signals) the delivery workflow of every endpoint of the event's tenant that subscribes to its type.
 * Called by the activity that records an invoice's events, after they are committed. Safe to call again with the same
 * events (a retried activity): the delivery rows are inserted once and the workflow drops events it already has.
 */
export function deliveryDispatcher(deps: {
  store: Store;
  temporal: Client;
  config?: Config;
  logger: Logger;
}): EventDispatcher {
  const { store, temporal, config, logger } = deps;
  const keys = config?.payloadEncryption.keys ?? [];
  const endpoints = endpointRepository(store, keys);
  const policy = config ? deliveryPolicy(config) : DEFAULT_DELIVERY_POLICY;

  return {
    async dispatch(events: readonly InvoiceEvent[]): Promise<void> {
      const byTenant = groupBy(events, (event) => event.tenant);
      for (const [tenant, tenantEvents] of byTenant) {
        const receiving = await endpoints.receiving(tenant);
        if (!receiving.length) continue;
        for (const [invoiceId, invoiceEvents] of groupBy(tenantEvents, (event) => event.invoiceId)) {
          // Any event of the batch may end the invoice, subscribed or not: the workflow must not wait for more.
          const invoiceEnded = invoiceEvents.some((event) => isFinalStatus(event.data.invoice.status));
          for (const endpoint of receiving) {
            const matching = invoiceEvents.filter((event) => subscribes(endpoint, event.type));
            if (!matching.length) {
              // Nothing to send, but a workflow waiting for this invoice's next event would otherwise idle for days.
              if (invoiceEnded) await endWaiting(endpoint, tenant, invoiceId);
              continue;
            }
            await addPendingDeliveries(
              store,
              matching.map((event) => ({ endpointId: endpoint.id, eventId: event.id })),
            );
            await signal(endpoint, tenant, invoiceId, {
              events: matching.map(({ id, sequence }) => ({ id, sequence })),
              invoiceEnded,
            });
          }
        }
      }
    },
  };

  async function signal(endpoint: WebhookEndpoint, tenant: string, invoiceId: string, recorded: EventsRecorded) {
    const input: DeliveryWorkflowInput = { endpointId: endpoint.id, tenant, invoiceId, policy };
    await temporal.workflow.signalWithStart<typeof webhookDeliveryWorkflow, [EventsRecorded]>(DELIVERY_WORKFLOW_TYPE, {
      workflowId: deliveryWorkflowId(endpoint.id, tenantInvoiceKey(tenant, invoiceId)),
      taskQueue: TASK_QUEUES.invoices,
      args: [input],
      signal: eventsRecordedSignal,
      signalArgs: [recorded],
    });
    logger.debug(
      { endpointId: endpoint.id, invoiceId, events: recorded.events.length },
      'webhook deliveries signalled',
    );
  }

  /** Tells a running delivery workflow that the invoice ended; none running (never started, or done) is fine. */
  async function endWaiting(endpoint: WebhookEndpoint, tenant: string, invoiceId: string) {
    const workflowId = deliveryWorkflowId(endpoint.id, tenantInvoiceKey(tenant, invoiceId));
    try {
      await temporal.workflow.getHandle(workflowId).signal(eventsRecordedSignal, { events: [], invoiceEnded: true });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
