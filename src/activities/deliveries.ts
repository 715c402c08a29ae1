import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityDeps } from './index';
import {
  cancelPending,
  deliveryPolicy,
  deliveryStatus,
  markGivenUp,
  recordAttempt,
  sendEvent,
} from '../webhooks/deliveries';
import { endpointRepository } from '../webhooks/endpoints';
import { eventById } from '../events/log';
import { DELIVERY_FAILURES, type DeliverEventInput, type DeliverEventResult } from '../workflows/delivery-definitions';

/** The activities of outgoing webhook deliveries (issue 13, part 2). Inputs carry ids only; secrets stay in the store. */
export function deliveryActivities(deps: ActivityDeps) {
  function needs() {
    const { store, config } = deps;
    // A worker built without a store (the invoice workflow's own tests) never gets a delivery; if it did, another
    // worker that has one can take the retry.
    if (!store || !config) throw new Error('this worker has no store: it cannot deliver webhooks');
    return { store, config, endpoints: endpointRepository(store, config.payloadEncryption.keys) };
  }

  /**
   * The attempt of each delivery running in this process. Temporal starts the next attempt once the last one's
   * start-to-close timeout passes, even if that one is still running (a stalled process, a store slow to take its
   * record): the next waits for it here and then reads its outcome, instead of sending the event a second time.
   */
  const running = new Map<string, Promise<unknown>>();

  async function oneAtATime<T>(input: DeliverEventInput, attempt: () => Promise<T>): Promise<T> {
    const key = `${input.endpointId} ${input.eventId}`;
    const before = running.get(key);
    const mine = (before ? before.catch(() => undefined) : Promise.resolve()).then(attempt);
    running.set(key, mine);
    try {
      return await mine;
    } finally {
      if (running.get(key) === mine) running.delete(key);
    }
  }

  return {
    deliverEvent: (input: DeliverEventInput): Promise<DeliverEventResult> => oneAtATime(input, () => deliver(input)),

    async giveUpDelivery(input: DeliverEventInput): Promise<void> {
      const { store } = needs();
      await markGivenUp(store, input.endpointId, input.eventId);
      // The one moment an operator should hear of: a receiver that has refused an event for the whole retry window.
      deps.logger.warn({ ...input }, 'webhook delivery given up; the endpoint is marked failing');
    },
  };

  async function deliver(input: DeliverEventInput): Promise<DeliverEventResult> {
    const { store, config, endpoints } = needs();
    const endpoint = await endpoints.byId(input.endpointId);
    if (!endpoint || endpoint.status === 'disabled') {
      await cancelPending(store, input.endpointId);
      return { outcome: endpoint ? 'endpoint_disabled' : 'endpoint_deleted' };
    }
    // An attempt whose 2xx was recorded but whose completion never reached Temporal (the worker died) is not sent
    // again; the receiver's dedup by event id covers the narrower window before the record.
    if ((await deliveryStatus(store, input.endpointId, input.eventId)) === 'delivered') {
      return { outcome: 'already_delivered' };
    }
    const event = await eventById(store, input.eventId);
    if (!event) {
      throw ApplicationFailure.nonRetryable(`event ${input.eventId} is not in the log`, DELIVERY_FAILURES.eventMissing);
    }
    const info = Context.current().info;
    const startedAt = new Date();
    const sent = await sendEvent({
      url: endpoint.url,
      event,
      secrets: await endpoints.activeSecrets(endpoint.id),
      timeoutMs: deliveryPolicy(config).requestTimeoutMs,
      allowPrivate: config.webhooks.privateDestinations === 'allow',
    });
    await recordAttempt(store, { ...input, attempt: info.attempt, startedAt, ...sent });
    if (sent.refused) {
      throw ApplicationFailure.nonRetryable(sent.error ?? 'destination not allowed', DELIVERY_FAILURES.notAllowed);
    }
    if (!sent.ok) {
      throw ApplicationFailure.retryable(
        sent.statusCode === undefined ? `no answer: ${sent.error ?? 'unknown'}` : `answered ${sent.statusCode}`,
        DELIVERY_FAILURES.failed,
      );
    }
    return { outcome: 'delivered', ...(sent.statusCode === undefined ? {} : { statusCode: sent.statusCode }) };
  }
}
