// Reconciliation: our invoices against each provider's reports. Deterministic workflow code only: the listing, the
// lookups, the matching (a pure function, src/domain/reconciliation.ts) and the store are activities.
import {
  executeChild,
  log,
  metricMeter,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { InvoiceActivities } from '../activities';
import { WORKER_METRICS } from '../domain/metric-names';
import type { ProviderRecords, ReconciliationSummary } from '../domain/reconciliation';
import { searchAttributes, TASK_QUEUES } from './definitions';
import {
  reconciliationReportId,
  type ReconciliationInput,
  type ReconciliationRunInput,
  type ReconciliationRunResult,
} from './reconciliation-definitions';

/**
 * Visibility and the store answer in seconds, though a busy window lists thousands of invoices; a stuck call is retried
 * for a while, then the run fails loudly.
 */
const QUICK: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/**
 * A report page can wait long on a rate-limited queue: the schedule-to-close covers the wait, not only the call. A page
 * of per-reference lookups makes 25 calls in a row, each within the provider client's own timeout.
 */
const REPORT_PAGE: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '2 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
};

/** A report with more pages than this is cut short, and says so, rather than running for ever. */
const MAX_PAGES = 500;

const { reconciliationInvoices, reconciliationFindInvoices, reconciliationReport } = proxyActivities<InvoiceActivities>(
  { ...QUICK, taskQueue: TASK_QUEUES.invoices },
);

/**
 * One provider, one window: stage our invoices, stage the provider's report page by page, look up what the report
 * names outside the window, then match, nudge and store. Both sides stay in the store, never in the history: a busy
 * window holds more than a workflow event may carry. The workflow id is the report id.
 */
export async function reconciliationWorkflow(input: ReconciliationInput): Promise<ReconciliationSummary> {
  const step = { reportId: workflowInfo().workflowId, ...input };
  await reconciliationInvoices(step);

  // Listed up to now, not to `until`: an invoice of the window whose object came a little later still matches it.
  // `Date.now()` is the workflow task's time, which a first run can read differently from its replay (see the invoice
  // workflow's REPLAY_SAFE_PATCH); it only goes into an activity's input, which replay does not compare.
  const listUntil = new Date(Math.max(Date.parse(input.until), Date.now())).toISOString();
  const { reconciliationRecords } = proxyActivities<InvoiceActivities>({
    ...REPORT_PAGE,
    // The provider's own queue, whose server-side rate limit holds every request to a rate-limited provider.
    taskQueue: input.provider === 'bitfinex' ? TASK_QUEUES.bitfinex : TASK_QUEUES.invoices,
  });
  let report: Omit<ProviderRecords, 'records'> | undefined;
  let cursor: string | undefined;
  let pages = 0;
  const notes: string[] = [];
  do {
    const page = await reconciliationRecords({ ...step, listUntil, ...(cursor !== undefined ? { cursor } : {}) });
    report ??= { coverage: page.coverage, refKey: page.refKey, ...(page.note ? { note: page.note } : {}) };
    cursor = page.nextCursor;
    pages++;
    if (cursor !== undefined && pages >= MAX_PAGES) {
      notes.push(`the report was cut short after ${MAX_PAGES} pages`);
      cursor = undefined;
    }
  } while (cursor !== undefined);
  if (!report) throw new Error('no report page');

  await reconciliationFindInvoices({ ...step, refKey: report.refKey });
  const summary = await reconciliationReport({ ...step, report, notes });

  upsertSearchAttributes([{ key: searchAttributes.reconciliationDifferences, value: summary.differences }]);
  const counter = metricMeter.createCounter(
    WORKER_METRICS.reconciliationDifferences,
    '',
    'Differences reconciliation found between our invoices and a provider, by class',
  );
  for (const [name, count] of Object.entries(summary.byClass)) {
    if (count > 0) counter.add(count, { provider: input.provider, class: name });
  }
  return summary;
}

/** A run: one child per provider over the same window. Started by the schedule, or at once through the API. */
export async function reconciliationRunWorkflow(input: ReconciliationRunInput): Promise<ReconciliationRunResult> {
  // The first task's time: a scheduled run's window ends then. It goes into children's input only, which replay does
  // not compare, so a first run that read it differently from its replay still replays.
  const now = Date.now();
  const until = input.until ?? new Date(now).toISOString();
  const since = input.since ?? new Date(Date.parse(until) - (input.lookbackHours ?? 48) * 3_600_000).toISOString();
  const runId = workflowInfo().workflowId;
  const reports = await Promise.all(
    input.providers.map(async (provider) => {
      const id = reconciliationReportId(runId, provider);
      try {
        const summary = await executeChild(reconciliationWorkflow, {
          workflowId: id,
          taskQueue: TASK_QUEUES.invoices,
          args: [{ provider, since, until }],
        });
        return { provider, id, summary };
      } catch (error) {
        // One provider's failure (its API down past every retry) must not hide the others' reports.
        log.error('reconciliation of a provider failed', { provider, error: String(error) });
        return { provider, id, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
  return { since, until, reports };
}
