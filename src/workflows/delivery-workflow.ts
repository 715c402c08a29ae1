import {
  ActivityFailure,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { deliveryActivities } from '../activities/deliveries';
import {
  DELIVERY_FAILURES,
  eventsRecordedSignal,
  type DeliveryWorkflowInput,
  type DeliveryWorkflowResult,
  type EventRef,
} from './delivery-definitions';

type DeliveryActivities = ReturnType<typeof deliveryActivities>;

const DEFAULT_HISTORY_BUDGET = 2_000;
/** Room for the request to time out by itself and for the attempt to be written down before Temporal gives up on it. */
const ATTEMPT_MARGIN_MS = 5_000;

/**
 * Delivers one invoice's events to one endpoint, in sequence order, each retried on a growing schedule until it is
 * accepted or the give-up time passes (then the delivery is marked failed, the endpoint failing, and the next event
 * goes). Every attempt is an attempt of the `deliverEvent` activity, visible in the Temporal UI and in the store.
 */
export async function webhookDeliveryWorkflow(input: DeliveryWorkflowInput): Promise<DeliveryWorkflowResult> {
  const { policy } = input;
  const deliver = proxyActivities<DeliveryActivities>({
    startToCloseTimeout: policy.requestTimeoutMs + ATTEMPT_MARGIN_MS,
    scheduleToCloseTimeout: policy.giveUpAfterSeconds * 1000,
    retry: {
      initialInterval: policy.initialIntervalSeconds * 1000,
      backoffCoefficient: 2,
      maximumInterval: policy.maximumIntervalSeconds * 1000,
      nonRetryableErrorTypes: [DELIVERY_FAILURES.eventMissing],
    },
  });
  // Bookkeeping in our own store: retried until it succeeds, which it will once the store is back.
  const bookkeeping = proxyActivities<DeliveryActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  });

  let pending: EventRef[] = [...(input.pending ?? [])];
  let handledThrough = input.handledThrough ?? 0;
  let invoiceEnded = input.invoiceEnded ?? false;
  const result: DeliveryWorkflowResult = { delivered: 0, failed: 0, ...input.tally, ended: 'idle' };

  // A dispatch retried after it signalled, or a batch recorded twice, names events already here or already handled.
  setHandler(eventsRecordedSignal, ({ events, invoiceEnded: ended }) => {
    for (const event of events) {
      if (event.sequence > handledThrough && !pending.some((known) => known.id === event.id)) pending.push(event);
    }
    pending = pending.sort((a, b) => a.sequence - b.sequence);
    invoiceEnded ||= ended;
  });

  for (;;) {
    const [next] = pending;
    if (!next) {
      if (invoiceEnded) return { ...result, ended: 'invoice_ended' };
      const woken = await condition(() => pending.length > 0 || invoiceEnded, policy.idleSeconds * 1000);
      if (!woken) return result;
      continue;
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > (input.historyBudgetEvents ?? DEFAULT_HISTORY_BUDGET)) {
      const tally = { delivered: result.delivered, failed: result.failed };
      await continueAsNew<typeof webhookDeliveryWorkflow>({ ...input, pending, handledThrough, invoiceEnded, tally });
    }
    try {
      const outcome = await deliver.deliverEvent({ endpointId: input.endpointId, eventId: next.id });
      if (outcome.outcome === 'endpoint_disabled' || outcome.outcome === 'endpoint_deleted') {
        return { ...result, ended: outcome.outcome };
      }
      if (outcome.outcome === 'delivered') result.delivered += 1;
    } catch (error) {
      // Out of retries (or time): the event stays in the log to replay, and the invoice's next event goes on.
      if (!(error instanceof ActivityFailure) || isCancellation(error)) throw error;
      await bookkeeping.giveUpDelivery({ endpointId: input.endpointId, eventId: next.id });
      result.failed += 1;
    }
    pending = pending.filter((event) => event.id !== next.id);
    handledThrough = Math.max(handledThrough, next.sequence);
  }
}
