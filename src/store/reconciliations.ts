import { z } from 'zod';
import { DIFFERENCE_CLASSES, RECORD_STATUSES, type ReconciliationReport } from '../domain/reconciliation';
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
