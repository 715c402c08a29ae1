import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { TASK_QUEUES } from '../workflows/definitions';
import {
  RECONCILIATION_ID_PREFIX,
  RECONCILIATION_RUN_WORKFLOW_TYPE,
  type ReconciliationRunInput,
} from '../workflows/reconciliation-definitions';

export const RECONCILIATION_SCHEDULE_ID = 'reconciliation';

/**
 * The daily reconciliation (RECONCILIATION_CRON, UTC), created or brought up to date by every worker that starts: the
 * same schedule whoever starts first, so replicas starting together leave one. A run that overlaps the previous one is
 * skipped rather than queued: the next covers its window too (48 h lookback for a daily run).
 */
export async function ensureReconciliationSchedule(client: Client, config: Config, logger: Logger): Promise<void> {
  const input: ReconciliationRunInput = {
    providers: [...config.providers.enabled],
    lookbackHours: config.reconciliation.lookbackHours,
  };
  const spec = { cronExpressions: [config.reconciliation.cron] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: RECONCILIATION_RUN_WORKFLOW_TYPE,
    taskQueue: TASK_QUEUES.invoices,
    // Temporal appends the scheduled time, so each run, and each of its reports, has an id of its own.
    workflowId: `${RECONCILIATION_ID_PREFIX}scheduled`,
    args: [input],
  };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP };
  try {
    await client.schedule.create({ scheduleId: RECONCILIATION_SCHEDULE_ID, spec, action, policies });
    logger.info({ cron: config.reconciliation.cron }, 'reconciliation schedule created');
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule
      .getHandle(RECONCILIATION_SCHEDULE_ID)
      .update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
    logger.info({ cron: config.reconciliation.cron }, 'reconciliation schedule updated');
  }
}
