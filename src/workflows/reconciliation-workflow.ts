// Reconciliation: our invoices against each provider's reports. Deterministic workflow code only; the listing, the
// lookups and the store are activities, the matching a pure function.
import {
  executeChild,
  getExternalWorkflowHandle,
  log,
  metricMeter,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { InvoiceActivities } from '../activities';
import { WORKER_METRICS } from '../domain/metric-names';
import {
  classify,
  countByClass,
  type BookedInvoice,
  type Difference,
  type ProviderRecord,
  type ProviderRecords,
  type ReconciliationSummary,
} from '../domain/reconciliation';
import { providerLookSignal, searchAttributes, TASK_QUEUES } from './definitions';
import {
  reconciliationReportId,
  type ReconciliationInput,
  type ReconciliationRunInput,
  type ReconciliationRunResult,
} from './reconciliation-definitions';

/** Visibility and the store answer in seconds; a stuck one is retried for a while, then the run fails loudly. */
const QUICK: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** A report page can wait long on a rate-limited queue: the schedule-to-close covers the wait, not only the call. */
const REPORT_PAGE: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '2 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
};

/** A report with more pages than this is cut short, and says so, rather than running for ever. */
const MAX_PAGES = 500;

const { reconciliationInvoices, reconciliationFindInvoices, storeReconciliationReport } =
  proxyActivities<InvoiceActivities>({ ...QUICK, taskQueue: TASK_QUEUES.invoices });

/** One provider, one window: list, match, classify, nudge, store. The workflow id is the report id. */
export async function reconciliationWorkflow(input: ReconciliationInput): Promise<ReconciliationSummary> {
  const { provider, since, until } = input;
  const id = workflowInfo().workflowId;
  const ours = await reconciliationInvoices({ provider, since, until });

  // Listed up to now, not to `until`: an invoice of the window whose object came a little later still matches it.
  const listUntil = new Date(Math.max(Date.parse(until), Date.now())).toISOString();
  const { reconciliationRecords } = proxyActivities<InvoiceActivities>({
    ...REPORT_PAGE,
    // The provider's own queue, whose server-side rate limit holds every request to a rate-limited provider.
    taskQueue: provider === 'bitfinex' ? TASK_QUEUES.bitfinex : TASK_QUEUES.invoices,
  });
  const references = ours.map((invoice) => invoice.reference);
  const records: ProviderRecord[] = [];
  let report: Omit<ProviderRecords, 'records'> | undefined;
  let cursor: string | undefined;
  let pages = 0;
  let cutShort = false;
  do {
    const page = await reconciliationRecords({
      provider,
      since,
      until: listUntil,
      references,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    records.push(...page.records);
    report ??= { coverage: page.coverage, refKey: page.refKey, ...(page.note ? { note: page.note } : {}) };
    cursor = page.nextCursor;
    pages++;
    if (cursor !== undefined && pages >= MAX_PAGES) {
      cutShort = true;
      cursor = undefined;
    }
  } while (cursor !== undefined);
  if (!report) throw new Error('no report page');

  // Records naming invoices the window did not hold (started just before `since`): found wherever they are.
  const known = new Set(references);
  const held = new Set(ours.flatMap((invoice) => invoice.providerReferences));
  const unknown = records.filter(
    (record) =>
      !(record.ourReference !== undefined && known.has(record.ourReference)) &&
      !held.has(`${report.refKey}:${record.providerRef}`),
  );
  const extra: BookedInvoice[] = unknown.length
    ? await reconciliationFindInvoices({
        provider,
        references: unknown.flatMap((record) => (record.ourReference !== undefined ? [record.ourReference] : [])),
        providerReferences: unknown.map((record) => `${report.refKey}:${record.providerRef}`),
      })
    : [];
  const invoices = [...ours, ...extra.filter((invoice) => !known.has(invoice.reference))];
  const { differences, matched } = classify(invoices, { ...report, records }, { since, until });

  // An invoice still running is told to look at its provider again: the difference may be a webhook it missed.
  const running = new Map(invoices.filter((invoice) => invoice.running).map((i) => [i.reference, i.workflowId]));
  const nudged = new Set<string>();
  for (const difference of differences) {
    const workflowId = difference.reference !== undefined ? running.get(difference.reference) : undefined;
    if (!workflowId || nudged.has(workflowId)) continue;
    try {
      await getExternalWorkflowHandle(workflowId).signal(providerLookSignal, {
        provider,
        hint: difference.class,
        via: 'reconciliation',
      });
      nudged.add(workflowId);
    } catch (error) {
      // It ended since visibility listed it: nothing left to nudge, the report still names the difference.
      log.warn('nudge not delivered', { workflowId, error: String(error) });
    }
  }
  const reported: Difference[] = differences.map((difference) => {
    const workflowId = difference.reference !== undefined ? running.get(difference.reference) : undefined;
    return workflowId && nudged.has(workflowId) ? { ...difference, nudged: true } : difference;
  });

  const byClass = countByClass(reported);
  const notes = [report.note, cutShort ? `the report was cut short after ${MAX_PAGES} pages` : undefined].filter(
    (note): note is string => note !== undefined,
  );
  const summary: ReconciliationSummary = {
    provider,
    since,
    until,
    coverage: report.coverage,
    ...(notes.length ? { coverageNote: notes.join('; ') } : {}),
    invoices: invoices.length,
    records: records.length,
    matched,
    differences: reported.length,
    byClass,
    nudged: nudged.size,
  };
  await storeReconciliationReport({ id, summary, differences: reported });
  upsertSearchAttributes([{ key: searchAttributes.reconciliationDifferences, value: reported.length }]);
  const counter = metricMeter.createCounter(
    WORKER_METRICS.reconciliationDifferences,
    '',
    'Differences reconciliation found between our invoices and a provider, by class',
  );
  for (const [name, count] of Object.entries(byClass)) {
    if (count > 0) counter.add(count, { provider, class: name });
  }
  return summary;
}

/** A run: one child per provider over the same window. Started by the schedule, or at once through the API. */
export async function reconciliationRunWorkflow(input: ReconciliationRunInput): Promise<ReconciliationRunResult> {
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
