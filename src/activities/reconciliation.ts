import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import type { ProviderName } from '../domain/constants';
import {
  classify,
  countByClass,
  reportCsv,
  type BookedInvoice,
  type Difference,
  type ProviderRecords,
  type ReconciliationSummary,
} from '../domain/reconciliation';
import { FAILURE_TYPES, providerRefusal } from '../errors';
import type { RecordsPage } from '../providers/types';
import { clearStaged, saveReport, stagedInvoices, stagedRecords, stageItems } from '../store/reconciliations';
import type { Store } from '../store/database';
import {
  INVOICE_WORKFLOW_TYPE,
  invoiceIdOf,
  invoiceWorkflowId,
  providerLookSignal,
  searchAttributes,
} from '../workflows/definitions';
import type { ActivityDeps } from './index';

/** What every step of one provider's reconciliation names: its report (the staging's key), provider and window. */
export interface ReconciliationStep {
  reportId: string;
  provider: ProviderName;
  since: string;
  until: string;
}

/** A worker without a store or a Temporal client cannot reconcile; retrying on it would not help. */
export const RECONCILIATION_UNAVAILABLE = 'ReconciliationUnavailable';

/** Visibility's query language quotes strings in single quotes; ours never contain one, but a quote is escaped anyway. */
function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function booked(execution: WorkflowExecutionInfo): BookedInvoice {
  const attributes = execution.typedSearchAttributes;
  const amount = attributes.get(searchAttributes.amount);
  const currency = attributes.get(searchAttributes.currency);
  const status = attributes.get(searchAttributes.status);
  return {
    reference: invoiceIdOf(execution.workflowId),
    workflowId: execution.workflowId,
    ...(status !== undefined ? { status } : {}),
    ...(amount !== undefined ? { amount } : {}),
    ...(currency !== undefined ? { currency } : {}),
    providerReferences: attributes.get(searchAttributes.providerReferences) ?? [],
    running: execution.status.name === 'RUNNING',
    startedAt: execution.startTime.toISOString(),
  };
}

/** One invoice per workflow id: of a continued invoice only its open (or newest) run counts. */
async function listBooked(temporal: Client, query: string): Promise<BookedInvoice[]> {
  const byId = new Map<string, BookedInvoice>();
  for await (const execution of temporal.workflow.list({ query })) {
    if (execution.status.name === 'CONTINUED_AS_NEW') continue;
    const invoice = booked(execution);
    const known = byId.get(invoice.workflowId);
    if (!known || invoice.running || (!known.running && (invoice.startedAt ?? '') > (known.startedAt ?? ''))) {
      byId.set(invoice.workflowId, invoice);
    }
  }
  return [...byId.values()];
}

/** The activities of reconciliation against the providers' reports (issue 13, part 3). */
export function reconciliationActivities(deps: ActivityDeps) {
  function needTemporal(): Client {
    if (deps.temporal) return deps.temporal;
    throw ApplicationFailure.create({
      type: RECONCILIATION_UNAVAILABLE,
      message: 'this worker has no Temporal client to list invoices with',
      nonRetryable: true,
    });
  }
  function needStore(): Store {
    if (deps.store) return deps.store;
    throw ApplicationFailure.create({
      type: RECONCILIATION_UNAVAILABLE,
      message: 'this worker has no store to keep reconciliation reports in',
      nonRetryable: true,
    });
  }

  return {
    /**
     * Our side of the books, staged: the provider's invoices started in the window, from Temporal's visibility, which
     * indexes every invoice's status, money and provider references as it goes.
     */
    async reconciliationInvoices(input: ReconciliationStep): Promise<{ invoices: number }> {
      const store = needStore();
      await clearStaged(store, input.reportId);
      const query = [
        `WorkflowType = ${quote(INVOICE_WORKFLOW_TYPE)}`,
        `PaymentProvider = ${quote(input.provider)}`,
        `StartTime >= ${quote(input.since)}`,
        `StartTime <= ${quote(input.until)}`,
      ].join(' AND ');
      const invoices = await listBooked(needTemporal(), query);
      await stageItems(
        store,
        input.reportId,
        'ours',
        invoices.map((invoice) => ({ key: invoice.reference, data: invoice })),
      );
      return { invoices: invoices.length };
    },

    /**
     * One page of the provider's report, staged; scheduled on the provider's own task queue, under its rate limit.
     * `listUntil` reaches past the window: an invoice of the window whose object came a little later still matches.
     */
    async reconciliationRecords(
      input: ReconciliationStep & { listUntil: string; cursor?: string },
    ): Promise<Omit<RecordsPage, 'records'> & { records: number }> {
      const adapter = deps.providers[input.provider];
      if (!adapter.listRecords) {
        throw providerRefusal(
          FAILURE_TYPES.notSupported,
          `${input.provider} has no report operation to reconcile with`,
        );
      }
      const store = needStore();
      const references = (await stagedInvoices(store, input.reportId)).map((invoice) => invoice.reference);
      const { records, ...page } = await adapter.listRecords({
        since: input.since,
        until: input.listUntil,
        references,
        ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
      });
      await stageItems(
        store,
        input.reportId,
        'theirs',
        records.map((record) => ({ key: record.providerRef, data: record })),
      );
      deps.logger.info(
        { provider: input.provider, records: records.length, more: page.nextCursor !== undefined },
        'report page',
      );
      return { ...page, records: records.length };
    },

    /**
     * Invoices the provider's records name that the window did not hold (started just before it): found by our
     * reference (the workflow id) or by the provider's id among their references, whenever they started.
     */
    async reconciliationFindInvoices(input: ReconciliationStep & { refKey: string }): Promise<{ found: number }> {
      const store = needStore();
      const temporal = needTemporal();
      const ours = await stagedInvoices(store, input.reportId);
      const known = new Set(ours.map((invoice) => invoice.reference));
      const held = new Set(ours.flatMap((invoice) => invoice.providerReferences));
      const unknown = (await stagedRecords(store, input.reportId)).filter(
        (record) =>
          !(record.ourReference !== undefined && known.has(record.ourReference)) &&
          !held.has(`${input.refKey}:${record.providerRef}`),
      );
      const references = unknown.flatMap((record) => (record.ourReference !== undefined ? [record.ourReference] : []));
      const providerReferences = unknown.map((record) => `${input.refKey}:${record.providerRef}`);
      const found: BookedInvoice[] = [];
      // Bounded chunks: one visibility query per 50 names rather than one per name.
      const chunks = <T>(items: T[]) =>
        Array.from({ length: Math.ceil(items.length / 50) }, (_, i) => items.slice(i * 50, i * 50 + 50));
      for (const chunk of chunks(references)) {
        const ids = chunk.map((reference) => quote(invoiceWorkflowId(reference))).join(', ');
        found.push(...(await listBooked(temporal, `WorkflowId IN (${ids})`)));
      }
      for (const chunk of chunks(providerReferences)) {
        const refs = chunk.map(quote).join(', ');
        const query = `WorkflowType = ${quote(INVOICE_WORKFLOW_TYPE)} AND PaymentProvider = ${quote(input.provider)} AND ProviderReferences IN (${refs})`;
        found.push(...(await listBooked(temporal, query)));
      }
      const extra = found.filter(
        (invoice, index) =>
          !known.has(invoice.reference) && found.findIndex((f) => f.workflowId === invoice.workflowId) === index,
      );
      await stageItems(
        store,
        input.reportId,
        'ours',
        extra.map((invoice) => ({ key: invoice.reference, data: invoice })),
      );
      return { found: extra.length };
    },

    /**
     * Matches the staged sides, tells every affected invoice still running to look at its provider again, and stores
     * the report (JSON for the API, CSV for finance). Run again after a failure, it nudges again: a look is harmless.
     */
    async reconciliationReport(
      input: ReconciliationStep & { report: Omit<ProviderRecords, 'records'>; notes: string[] },
    ): Promise<ReconciliationSummary> {
      const store = needStore();
      const temporal = needTemporal();
      const invoices = await stagedInvoices(store, input.reportId);
      const records = await stagedRecords(store, input.reportId);
      const { differences, matched } = classify(
        invoices,
        { ...input.report, records },
        { since: input.since, until: input.until },
      );
      const running = new Map(invoices.filter((invoice) => invoice.running).map((i) => [i.reference, i.workflowId]));
      const nudged = new Set<string>();
      for (const difference of differences) {
        const workflowId = difference.reference !== undefined ? running.get(difference.reference) : undefined;
        if (!workflowId || nudged.has(workflowId)) continue;
        try {
          await temporal.workflow.getHandle(workflowId).signal(providerLookSignal, {
            provider: input.provider,
            hint: difference.class,
            via: 'reconciliation',
          });
          nudged.add(workflowId);
        } catch (error) {
          // It ended since visibility listed it: nothing left to nudge; the report still names the difference.
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      }
      const reported: Difference[] = differences.map((difference) => {
        const workflowId = difference.reference !== undefined ? running.get(difference.reference) : undefined;
        return workflowId && nudged.has(workflowId) ? { ...difference, nudged: true } : difference;
      });
      const notes = [input.report.note, ...input.notes].filter((note): note is string => note !== undefined);
      const summary: ReconciliationSummary = {
        provider: input.provider,
        since: input.since,
        until: input.until,
        coverage: input.report.coverage,
        ...(notes.length ? { coverageNote: notes.join('; ') } : {}),
        invoices: invoices.length,
        records: records.length,
        matched,
        differences: reported.length,
        byClass: countByClass(reported),
        nudged: nudged.size,
      };
      await saveReport(store, { id: input.reportId, summary, differences: reported }, reportCsv(reported));
      await clearStaged(store, input.reportId);
      deps.logger.info(
        { reportId: input.reportId, provider: input.provider, differences: reported.length },
        'reconciliation report stored',
      );
      return summary;
    },
  };
}
