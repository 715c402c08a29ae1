import { ApplicationFailure } from '@temporalio/activity';
import { z } from 'zod';
import { stamped, type Stamped } from '../domain/clock';
import type { RecordInvoiceEventsInput } from '../domain/events';
import { NewInvoiceEventSchema, recordEvents } from '../events/log';
import { deliveryDispatcher } from '../webhooks/dispatch';
import type { ActivityDeps } from './index';

const RecordInvoiceEventsInputSchema = z.object({ events: z.array(NewInvoiceEventSchema).max(1000) });

/** Stable failure types of the recorder; both are retried (see the workflow's EVENT_RECORDING). */
export const EVENT_LOG_FAILURES = {
  /** This worker was started without a store: a wiring fault a redeploy fixes, so the invoice waits for it. */
  storeMissing: 'EventStoreMissing',
  /** The workflow handed over events the log refuses: a bug a fixed release can still record. */
  invalidEvents: 'InvalidInvoiceEvents',
} as const;

/**
 * Records one invoice's new events, then hands every event of the batch to the webhook deliveries, also those a retry
 * found recorded already: an earlier attempt may have committed and failed before or while dispatching, and
 * dispatching is idempotent. Throws the stable failures above; anything else is the store's own error.
 */
export function eventRecorder(deps: ActivityDeps): (events: unknown) => Promise<number> {
  const { store, temporal, config, logger } = deps;
  const dispatcher = store && temporal ? deliveryDispatcher({ store, temporal, config, logger }) : undefined;
  return async (events) => {
    if (!store) {
      throw ApplicationFailure.create({
        type: EVENT_LOG_FAILURES.storeMissing,
        message: 'this worker has no store (STORE_DATABASE_URL): it cannot record invoice events',
      });
    }
    const parsed = RecordInvoiceEventsInputSchema.safeParse({ events });
    if (!parsed.success) {
      logger.error({ issues: parsed.error.issues }, 'invoice events refused by the log');
      throw ApplicationFailure.create({
        type: EVENT_LOG_FAILURES.invalidEvents,
        message: `invoice events refused: ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')}`,
      });
    }
    const recorded = await recordEvents(store, parsed.data.events);
    await dispatcher?.dispatch(recorded.events);
    return recorded.inserted;
  };
}

/** The activities of the event log (issue 13, part 1), with the recorder the provider steps share. */
export function eventActivities(record: ReturnType<typeof eventRecorder>) {
  return {
    /** Retried until the store takes the events (a local activity before replay-safe-1); its result is kept small. */
    async recordInvoiceEvents(input: RecordInvoiceEventsInput): Promise<{ recorded: number } & Stamped> {
      return stamped({ recorded: await record(input.events) });
    },
  };
}
