import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Store } from '../store/database';
import { deliveryActivities } from './deliveries';
import { eventActivities, eventRecorder } from './events';
import { reconciliationActivities } from './reconciliation';
import { ApplicationFailure } from '@temporalio/common';
import { stamped } from '../domain/clock';
import type { CarriedEvents, EventsNotRecorded } from '../domain/events';
import { WORKER_METRICS } from '../domain/metric-names';
import { FAILURE_TYPES, providerRefusal, providerTransient } from '../errors';
import type { Logger } from '../logger';
import { TASK_QUEUES } from '../workflows/definitions';
import type {
  CompensationInput,
  ForceCompleteResult,
  ForceCompleteStepInput,
  ProviderAdapter,
  ProviderRegistry,
  StatusResult,
  StepInput,
  StepResult,
} from '../providers/types';

export interface ActivityDeps {
  providers: ProviderRegistry;
  logger: Logger;
  /**
   * The orchestrator's store and a Temporal client, for the event log, the webhook deliveries and reconciliation.
   * A worker without them runs invoices only (tests of the invoice workflow alone); `src/worker.ts` always has them.
   */
  store?: Store;
  temporal?: Client;
  config?: Config;
}

/** Well inside the workflow's 20-second heartbeat timeout for money-moving calls. */
const HEARTBEAT_EVERY_MS = 5_000;

/**
 * How long a step waits for the store to take the events it carries. A store that does not answer by then is away:
 * the step does not run, and the workflow records the events with its own recorder, which waits for the store.
 */
const CARRIED_EVENTS_TIMEOUT_MS = 5_000;

type OptionalStep = 'kyc' | 'paymentMethod' | 'bank' | 'approveAtProvider' | 'complete';

/**
 * The provider-neutral steps. Each dispatches to the provider named in the invoice; the workflow sees only these.
 */
export function createActivities(deps: ActivityDeps) {
  const { providers, logger } = deps;
  const recordEvents = eventRecorder(deps);
  function adapterFor(input: StepInput): ProviderAdapter {
    return providers[input.invoice.provider];
  }

  function log(step: string, input: StepInput): Logger {
    const info = Context.current().info;
    return logger.child({
      invoiceId: input.invoice.invoiceId,
      provider: input.invoice.provider,
      step,
      attempt: info.attempt,
    });
  }

  /** True once the store holds the events; false (logged) when it refused them or did not answer in time. */
  async function recordCarried(events: unknown, stepLog: Logger): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the store did not answer within ${CARRIED_EVENTS_TIMEOUT_MS} ms`)),
        CARRIED_EVENTS_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([recordEvents(events), timeout]);
      return true;
    } catch (error) {
      stepLog.warn(
        { err: error },
        'carried invoice events not recorded: the step waits for the workflow to record them',
      );
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async function run<T extends object>(
    step: string,
    input: StepInput & CarriedEvents,
    call: () => Promise<T>,
  ): Promise<T | EventsNotRecorded> {
    const context = Context.current();
    // The provider's adapter sees the step's own input, never the invoice's events.
    const { events } = input;
    delete input.events;
    input.attempt = context.info.attempt;
    const stepLog = log(step, input);
    stepLog.debug('provider step started');
    const metrics = providerCallMetrics(context, input.invoice.provider, step);
    metrics.queueWait(Date.now());
    // A creating or money-moving call is scheduled with a heartbeat timeout, so a worker that dies mid-call is
    // noticed in seconds rather than at the start-to-close timeout. The SDK throttles these to the timeout's pace.
    const beat = context.info.isLocal ? undefined : setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      // Every attempt records them (a repeat is harmless): the step never runs ahead of the events before it.
      if (events?.length && !(await recordCarried(events, stepLog))) {
        // Answering "not recorded" has the workflow schedule the step anew, whose first attempt is attempt 1 again. After
        // an attempt that may have reached the provider, an adapter without idempotency of its own would then skip its
        // look for what that attempt created, and create it twice: this attempt fails instead, and the next one of the
        // same activity carries the events again.
        if (context.info.attempt > 1) {
          throw providerTransient(
            FAILURE_TYPES.eventsNotRecorded,
            'the store did not take the events this step carries',
          );
        }
        return { eventsNotRecorded: true };
      }
      const startedAt = Date.now();
      try {
        const result = await call();
        metrics.ended(Date.now() - startedAt);
        stepLog.info('provider step done');
        return stamped(result);
      } catch (error) {
        metrics.ended(Date.now() - startedAt, error);
        stepLog.warn({ err: error }, 'provider step failed');
        throw error;
      }
    } finally {
      clearInterval(beat);
    }
  }

  function optional(step: OptionalStep) {
    return (input: StepInput & CarriedEvents): Promise<StepResult | EventsNotRecorded> =>
      run(step, input, () => {
        const adapter = adapterFor(input);
        if (!adapter[step]) {
          throw providerRefusal(FAILURE_TYPES.notSupported, `${adapter.name} has no ${step} step`);
        }
        return adapter[step](input);
      });
  }

  return {
    kyc: optional('kyc'),
    paymentMethod: optional('paymentMethod'),
    bank: optional('bank'),
    approveAtProvider: optional('approveAtProvider'),
    complete: optional('complete'),
    submit: (input: StepInput & CarriedEvents): Promise<StepResult | EventsNotRecorded> =>
      run('submit', input, () => adapterFor(input).submit(input)),
    compensate: (input: CompensationInput & CarriedEvents): Promise<StepResult | EventsNotRecorded> =>
      run(`compensate:${input.action}`, input, () => adapterFor(input).compensate(input)),
    fetchStatus: (input: StepInput & CarriedEvents): Promise<StatusResult | EventsNotRecorded> =>
      run('fetchStatus', input, () => adapterFor(input).fetchStatus(input)),
    forceComplete: (input: ForceCompleteStepInput & CarriedEvents): Promise<ForceCompleteResult | EventsNotRecorded> =>
      run('forceComplete', input, () => {
        const adapter = adapterFor(input);
        if (!adapter.forceComplete) {
          throw providerRefusal(FAILURE_TYPES.notSupported, `${adapter.name} cannot complete an invoice by hand`);
        }
        return adapter.forceComplete(input);
      }),
    ...eventActivities(recordEvents),
    ...deliveryActivities(deps),
    ...reconciliationActivities(deps),
  };
}

export type InvoiceActivities = ReturnType<typeof createActivities>;

/** The stable failure type for an ApplicationFailure (what retry policies see), else the error's class name. */
export function errorClass(error: unknown): string {
  if (error instanceof ApplicationFailure) return error.type ?? 'ApplicationFailure';
  return error instanceof Error ? error.name : 'Unknown';
}

/**
 * One provider step's metrics, through the activity's metric meter: they go out on the SDK's Prometheus endpoint with
 * its namespace, task queue and activity type tags. A step is one attempt, so a retried call counts each attempt.
 */
function providerCallMetrics(context: Context, provider: string, operation: string) {
  const meter = context.metricMeter;
  const tags = { provider, operation };
  return {
    /**
     * The wait between scheduling and start on a provider's own task queue, whose rate the server holds for every
     * worker: that is where a rate-limited provider's calls queue. Local attempts and the general queue have none.
     */
    queueWait(startedAt: number): void {
      const { info } = context;
      if (info.isLocal || info.taskQueue === TASK_QUEUES.invoices) return;
      const waited = Math.max(0, startedAt - info.currentAttemptScheduledTimestampMs);
      meter
        .createHistogram(WORKER_METRICS.rateLimitWait, 'int', 'ms', 'Wait on a rate-limited provider task queue')
        .record(waited, { provider });
    },
    ended(elapsedMs: number, error?: unknown): void {
      meter
        .createHistogram(WORKER_METRICS.providerCallLatency, 'int', 'ms', 'Provider step latency, one attempt')
        .record(elapsedMs, { ...tags, outcome: error === undefined ? 'ok' : 'error' });
      if (error === undefined) return;
      meter
        .createCounter(WORKER_METRICS.providerCallErrors, '', 'Provider step attempts that failed, by error class')
        .add(1, { ...tags, error_class: errorClass(error) });
    },
  };
}
