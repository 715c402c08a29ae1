// Reconciliation's vocabulary and its matching, pure and zod-free: the workflows share the types, an activity matches.
import type { ProviderName } from './constants';

/** What a provider's report says became of one of its objects, in words common to every provider. */
export const RECORD_STATUSES = ['settled', 'pending', 'failed', 'reversed', 'cancelled', 'expired'] as const;
export type RecordStatus = (typeof RECORD_STATUSES)[number];

/** One object from a provider's report operations. */
export interface ProviderRecord {
  /** The provider's id of the object; invoices hold it among their refs under the report's `refKey`. */
  providerRef: string;
  /** The `<tenant>_<invoiceId>` key the provider was given, when its report shows it. */
  ourReference?: string;
  /** Integer minor units and ISO 4217, when the report shows them. */
  amount?: number;
  currency?: string;
  status: RecordStatus;
  /** When the provider created it (ISO 8601), when the report says. */
  createdAt?: string;
  /** The provider's own status words, for the operator. */
  detail?: string;
}

/**
 * How far a provider's reports reach. `list`: every object of the window is listed, so orphans can be found.
 * `per-reference`: objects are looked up one by one by our references, so an object we never heard of cannot be.
 */
export type Coverage = 'list' | 'per-reference';

/** What a provider's report operations answered for a window. */
export interface ProviderRecords {
  coverage: Coverage;
  /** The ref key under which our invoices hold `providerRef` (e.g. `alfredInvoiceId`). */
  refKey: string;
  records: ProviderRecord[];
  /** What the report cannot show, said in the report itself. */
  note?: string;
}

/** An invoice on our side of the books, as Temporal's visibility indexes it. */
export interface BookedInvoice {
  /** The `<tenant>_<invoiceId>` key: the workflow id without its prefix, and the reference providers see. */
  reference: string;
  workflowId: string;
  status?: string;
  amount?: number;
  currency?: string;
  /** `key:value` for each provider reference the invoice holds. */
  providerReferences: string[];
  /** Its workflow is still open, so it can be told to look at its provider again. */
  running: boolean;
  startedAt?: string;
}

export const DIFFERENCE_CLASSES = [
  /** The provider settled; the invoice is not COMPLETED (a lost webhook, polling that ended). */
  'settled_not_completed',
  /** The invoice is COMPLETED; the provider does not show the object settled (a reversal, a failure). */
  'completed_not_settled',
  /** Both sides know the object, for different money. */
  'amount_mismatch',
  /** The provider holds an object no invoice of ours holds. */
  'orphan',
  /** An invoice that reached the provider, or completed, whose object the provider does not show. */
  'missing_at_provider',
] as const;
export type DifferenceClass = (typeof DIFFERENCE_CLASSES)[number];

export interface Difference {
  class: DifferenceClass;
  reference?: string;
  providerRef?: string;
  invoiceStatus?: string;
  providerStatus?: RecordStatus;
  ours?: { amount?: number; currency?: string };
  theirs?: { amount?: number; currency?: string };
  /** The invoice was still running and was told to look at its provider again. */
  nudged?: boolean;
}

export interface ReconciliationSummary {
  provider: ProviderName;
  since: string;
  until: string;
  coverage: Coverage;
  coverageNote?: string;
  invoices: number;
  records: number;
  matched: number;
  differences: number;
  byClass: Record<DifferenceClass, number>;
  nudged: number;
}

export interface ReconciliationReport {
  id: string;
  summary: ReconciliationSummary;
  differences: Difference[];
}

function at(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Matches the provider's records with our invoices and names every difference, once per object and class. A record
 * matches the invoice it names by our reference, or the invoice that holds its provider id. Records created after the
 * window only help matching: an invoice of the window whose object came a little later is not missing.
 */
export function classify(
  invoices: readonly BookedInvoice[],
  report: ProviderRecords,
  window: { since: string; until: string },
): { differences: Difference[]; matched: number } {
  const byReference = new Map(invoices.map((invoice) => [invoice.reference, invoice]));
  const byProviderRef = new Map<string, BookedInvoice>();
  for (const invoice of invoices) {
    for (const entry of invoice.providerReferences) {
      if (entry.startsWith(`${report.refKey}:`)) byProviderRef.set(entry.slice(report.refKey.length + 1), invoice);
    }
  }
  const since = at(window.since) ?? 0;
  const until = at(window.until) ?? Number.POSITIVE_INFINITY;
  const differences: Difference[] = [];
  const seen = new Set<string>();
  let matched = 0;
  for (const record of report.records) {
    const invoice =
      (record.ourReference !== undefined ? byReference.get(record.ourReference) : undefined) ??
      byProviderRef.get(record.providerRef);
    const created = at(record.createdAt);
    const inWindow = created === undefined || (created >= since && created < until);
    if (!invoice) {
      if (inWindow && report.coverage === 'list') {
        differences.push({
          class: 'orphan',
          providerRef: record.providerRef,
          ...(record.ourReference !== undefined ? { reference: record.ourReference } : {}),
          providerStatus: record.status,
          theirs: { amount: record.amount, currency: record.currency },
        });
      }
      continue;
    }
    // A second record for the same invoice (a retried creation) is the provider's business; the first one decides.
    if (seen.has(invoice.reference)) continue;
    seen.add(invoice.reference);
    matched++;
    const pair = {
      reference: invoice.reference,
      providerRef: record.providerRef,
      invoiceStatus: invoice.status,
      providerStatus: record.status,
    };
    if (record.status === 'settled' && invoice.status !== 'COMPLETED') {
      differences.push({ class: 'settled_not_completed', ...pair });
    }
    if (invoice.status === 'COMPLETED' && record.status !== 'settled') {
      differences.push({ class: 'completed_not_settled', ...pair });
    }
    const amountDiffers =
      record.amount !== undefined && invoice.amount !== undefined && record.amount !== invoice.amount;
    const currencyDiffers =
      record.currency !== undefined && invoice.currency !== undefined && record.currency !== invoice.currency;
    if (amountDiffers || currencyDiffers) {
      differences.push({
        class: 'amount_mismatch',
        ...pair,
        ours: { amount: invoice.amount, currency: invoice.currency },
        theirs: { amount: record.amount, currency: record.currency },
      });
    }
  }
  for (const invoice of invoices) {
    if (seen.has(invoice.reference)) continue;
    // Only an invoice that got as far as the provider's object (or claims the money moved) can miss it: one that
    // failed before submission never had one.
    const submitted = invoice.providerReferences.some((entry) => entry.startsWith(`${report.refKey}:`));
    if (!submitted && invoice.status !== 'COMPLETED') continue;
    const providerRef = invoice.providerReferences
      .find((entry) => entry.startsWith(`${report.refKey}:`))
      ?.slice(report.refKey.length + 1);
    differences.push({
      class: 'missing_at_provider',
      reference: invoice.reference,
      ...(providerRef !== undefined ? { providerRef } : {}),
      invoiceStatus: invoice.status,
      ours: { amount: invoice.amount, currency: invoice.currency },
    });
  }
  return { differences, matched };
}

/** Counts per class, every class present (zero included), so an alert can watch any one of them. */
export function countByClass(differences: readonly Difference[]): Record<DifferenceClass, number> {
  const counts = Object.fromEntries(DIFFERENCE_CLASSES.map((name) => [name, 0])) as Record<DifferenceClass, number>;
  for (const difference of differences) counts[difference.class]++;
  return counts;
}

const CSV_COLUMNS = [
  'class',
  'reference',
  'providerRef',
  'invoiceStatus',
  'providerStatus',
  'ourAmount',
  'ourCurrency',
  'providerAmount',
  'providerCurrency',
  'nudged',
] as const;

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  // A leading =, +, - or @ would be read as a formula by a spreadsheet: finance opens these files in one.
  const safe = /^[=+\-@]/.test(text) && typeof value === 'string' ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The differences for finance: one row each, amounts in minor units as everywhere else in the API. */
export function reportCsv(differences: readonly Difference[]): string {
  const rows = differences.map((d) =>
    [
      d.class,
      d.reference,
      d.providerRef,
      d.invoiceStatus,
      d.providerStatus,
      d.ours?.amount,
      d.ours?.currency,
      d.theirs?.amount,
      d.theirs?.currency,
      d.nudged,
    ]
      .map(csvField)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}
