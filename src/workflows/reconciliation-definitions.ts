// What the reconciliation workflows take and give, apart from the workflow code: the gateway, the schedule and the CLI
// import it without the workflow runtime. Zod-free, as the workflow bundle includes it.
import type { ProviderName } from '../domain/constants';
import type { ReconciliationSummary } from '../domain/reconciliation';

export const RECONCILIATION_WORKFLOW_TYPE = 'reconciliationWorkflow';
export const RECONCILIATION_RUN_WORKFLOW_TYPE = 'reconciliationRunWorkflow';
/** Every reconciliation's workflow id starts so: the gateway tells a report id from anything else by it. */
export const RECONCILIATION_ID_PREFIX = 'reconciliation-';

export interface ReconciliationInput {
  provider: ProviderName;
  /** ISO 8601: invoices started and provider objects created in [since, until] are compared. */
  since: string;
  until: string;
}

export interface ReconciliationRunInput {
  providers: ProviderName[];
  /** Absent: the window ends now (workflow time) and starts `lookbackHours` before (a scheduled run). */
  since?: string;
  until?: string;
  lookbackHours?: number;
}

export interface ReconciliationRunResult {
  since: string;
  until: string;
  reports: { provider: ProviderName; id: string; summary?: ReconciliationSummary; error?: string }[];
}

/** The report id of one provider's part of a run. */
export function reconciliationReportId(runId: string, provider: ProviderName): string {
  return `${runId}-${provider}`;
}
