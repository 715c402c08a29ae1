import { ApplicationFailure } from '@temporalio/common';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { ProviderName } from '../domain/constants';
import { reportCsv, type BookedInvoice, type ReconciliationReport } from '../domain/reconciliation';
import { FAILURE_TYPES, providerRefusal } from '../errors';
import type { RecordsPage, RecordsQuery } from '../providers/types';
import { saveReport } from '../store/reconciliations';
import type { Store } from '../store/database';
import { INVOICE_WORKFLOW_TYPE, invoiceIdOf, invoiceWorkflowId, searchAttributes } from '../workflows/definitions';
import type { ActivityDeps } from './index';

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
     * Our side of the books: the provider's invoices started in the window, from Temporal's visibility, which indexes
     * every invoice's status, money and provider references as it goes.
     */
    async reconciliationInvoices(input: { provider: ProviderName; since: string; until: string }) {
      const query = [
        `WorkflowType = ${quote(INVOICE_WORKFLOW_TYPE)}`,
        `PaymentProvider = ${quote(input.provider)}`,
        `StartTime >= ${quote(input.since)}`,
        `StartTime <= ${quote(input.until)}`,
      ].join(' AND ');
      return listBooked(needTemporal(), query);
    },

    /**
     * Invoices a provider's records name that the window did not hold (started just before it): found by our
     * reference (the workflow id) or by the provider's id among their references, whenever they started.
     */
    async reconciliationFindInvoices(input: {
      provider: ProviderName;
      references: string[];
      providerReferences: string[];
    }): Promise<BookedInvoice[]> {
      const temporal = needTemporal();
      const found: BookedInvoice[] = [];
      // Bounded chunks: one visibility query per 50 names rather than one per name.
      const chunks = <T>(items: T[]) =>
        Array.from({ length: Math.ceil(items.length / 50) }, (_, i) => items.slice(i * 50, i * 50 + 50));
      for (const chunk of chunks(input.references)) {
        const ids = chunk.map((reference) => quote(invoiceWorkflowId(reference))).join(', ');
        found.push(...(await listBooked(temporal, `WorkflowId IN (${ids})`)));
      }
      for (const chunk of chunks(input.providerReferences)) {
        const refs = chunk.map(quote).join(', ');
        const query = `WorkflowType = ${quote(INVOICE_WORKFLOW_TYPE)} AND PaymentProvider = ${quote(input.provider)} AND ProviderReferences IN (${refs})`;
        found.push(...(await listBooked(temporal, query)));
      }
      return found.filter((invoice, index) => found.findIndex((f) => f.workflowId === invoice.workflowId) === index);
    },

    /** One page of the provider's report; scheduled on the provider's own task queue, under its rate limit. */
    async reconciliationRecords(input: RecordsQuery & { provider: ProviderName }): Promise<RecordsPage> {
      const adapter = deps.providers[input.provider];
      if (!adapter.listRecords) {
        throw providerRefusal(
          FAILURE_TYPES.notSupported,
          `${input.provider} has no report operation to reconcile with`,
        );
      }
      const { provider, ...query } = input;
      const page = await adapter.listRecords(query);
      deps.logger.info({ provider, records: page.records.length, more: page.nextCursor !== undefined }, 'report page');
      return page;
    },

    /** The report, as JSON for the API and as CSV for finance. */
    async storeReconciliationReport(report: ReconciliationReport): Promise<void> {
      await saveReport(needStore(), report, reportCsv(report.differences));
      deps.logger.info(
        { reportId: report.id, provider: report.summary.provider, differences: report.summary.differences },
        'reconciliation report stored',
      );
    },
  };
}
