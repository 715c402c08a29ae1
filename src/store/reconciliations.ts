import { z } from 'zod';
import {
  DIFFERENCE_CLASSES,
  RECORD_STATUSES,
  type BookedInvoice,
  type ProviderRecord,
  type ReconciliationReport,
} from '../domain/reconciliation';
import { PROVIDER_NAMES } from '../domain/constants';
import type { Queryable } from './database';

const money = z.object({ amount: z.number().int().optional(), currency: z.string().optional() });

export const DifferenceSchema = z.object({
  class: z.enum(DIFFERENCE_CLASSES),
  reference: z.string().optional(),
  providerRef: z.string().optional(),
  invoiceStatus: z.string().optional(),
  providerStatus: z.enum(RECORD_STATUSES).optional(),
  ours: money.optional(),
  theirs: money.optional(),
  nudged: z.boolean().optional(),
});

export const ReconciliationSummarySchema = z.object({
  provider: z.enum(PROVIDER_NAMES),
  since: z.string(),
  until: z.string(),
  coverage: z.enum(['list', 'per-reference']),
  coverageNote: z.string().optional(),
  invoices: z.number().int(),
  records: z.number().int(),
  matched: z.number().int(),
  differences: z.number().int(),
  byClass: z.record(z.enum(DIFFERENCE_CLASSES), z.number().int()),
  nudged: z.number().int(),
});

export const StoredReportSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  summary: ReconciliationSummarySchema,
  differences: z.array(DifferenceSchema),
});
export type StoredReport = z.output<typeof StoredReportSchema>;

interface ReportRow {
  id: string;
  created_at: Date | string;
  summary: unknown;
  differences: unknown;
  csv: string;
}

function fromRow(row: ReportRow): StoredReport & { csv: string } {
  // jsonb comes back parsed; the schema makes sure it is still what this code wrote.
  const report = StoredReportSchema.parse({
    id: row.id,
    createdAt: new Date(row.created_at).toISOString(),
    summary: row.summary,
    differences: row.differences,
  });
  return { ...report, csv: row.csv };
}

/** Reports are written once per reconciliation; a retried activity writes the same report again, harmlessly. */
export async function saveReport(db: Queryable, report: ReconciliationReport, csv: string): Promise<void> {
  const { summary } = report;
  await db.query(
    `INSERT INTO reconciliation_reports (id, provider, since, until, summary, differences, csv)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET summary = EXCLUDED.summary, differences = EXCLUDED.differences, csv = EXCLUDED.csv`,
    [
      report.id,
      summary.provider,
      summary.since,
      summary.until,
      JSON.stringify(summary),
      JSON.stringify(report.differences),
      csv,
    ],
  );
}

export async function getReport(db: Queryable, id: string): Promise<(StoredReport & { csv: string }) | undefined> {
  const rows = await db.query<ReportRow>(
    'SELECT id, created_at, summary, differences, csv FROM reconciliation_reports WHERE id = $1',
    [id],
  );
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Newest first; the summaries only, a page at a time. */
export async function listReports(
  db: Queryable,
  options: { limit: number; provider?: string },
): Promise<{ id: string; createdAt: string; summary: StoredReport['summary'] }[]> {
  const rows = await db.query<ReportRow>(
    `SELECT id, created_at, summary, '[]'::jsonb AS differences, '' AS csv FROM reconciliation_reports
     WHERE ($1::text IS NULL OR provider = $1) ORDER BY created_at DESC, id DESC LIMIT $2`,
    [options.provider ?? null, options.limit],
  );
  return rows.map(fromRow).map(({ id, createdAt, summary }) => ({ id, createdAt, summary }));
}

export const BookedInvoiceSchema = z.object({
  reference: z.string(),
  workflowId: z.string(),
  status: z.string().optional(),
  amount: z.number().int().optional(),
  currency: z.string().optional(),
  providerReferences: z.array(z.string()),
  running: z.boolean(),
  startedAt: z.string().optional(),
}) satisfies z.ZodType<BookedInvoice>;

export const ProviderRecordSchema = z.object({
  providerRef: z.string(),
  ourReference: z.string().optional(),
  amount: z.number().int().optional(),
  currency: z.string().optional(),
  status: z.enum(RECORD_STATUSES),
  createdAt: z.string().optional(),
  detail: z.string().optional(),
}) satisfies z.ZodType<ProviderRecord>;

type Side = 'ours' | 'theirs';

/** Stages one side's items of a running reconciliation; an item staged again (a retried page) replaces itself. */
export async function stageItems(
  db: Queryable,
  reportId: string,
  side: Side,
  items: readonly { key: string; data: unknown }[],
): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `INSERT INTO reconciliation_items (report_id, side, key, data)
     SELECT $1, $2, item.key, item.data::jsonb FROM unnest($3::text[], $4::text[]) AS item(key, data)
     ON CONFLICT (report_id, side, key) DO UPDATE SET data = EXCLUDED.data`,
    [reportId, side, items.map((item) => item.key), items.map((item) => JSON.stringify(item.data))],
  );
}

export async function stagedInvoices(db: Queryable, reportId: string): Promise<BookedInvoice[]> {
  const rows = await db.query<{ data: unknown }>(
    "SELECT data FROM reconciliation_items WHERE report_id = $1 AND side = 'ours' ORDER BY key",
    [reportId],
  );
  return rows.map((row) => BookedInvoiceSchema.parse(row.data));
}

export async function stagedRecords(db: Queryable, reportId: string): Promise<ProviderRecord[]> {
  const rows = await db.query<{ data: unknown }>(
    "SELECT data FROM reconciliation_items WHERE report_id = $1 AND side = 'theirs' ORDER BY staged_at, key",
    [reportId],
  );
  return rows.map((row) => ProviderRecordSchema.parse(row.data));
}

/** A reconciliation's staging, once its report is stored; and what runs that failed left behind a week ago. */
export async function clearStaged(db: Queryable, reportId: string): Promise<void> {
  await db.query("DELETE FROM reconciliation_items WHERE report_id = $1 OR staged_at < now() - interval '7 days'", [
    reportId,
  ]);
}
