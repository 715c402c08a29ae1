import type { ProviderRecord } from '../domain/reconciliation';
import type { RecordsPage, RecordsQuery } from './types';

/** Lookups per report page: each page is one activity, so a rate-limited queue spaces them out. */
export const REFERENCES_PER_PAGE = 25;

/**
 * A report for a provider that lists nothing and answers one reference at a time: our references of the window, a
 * page at a time. An object the provider holds that we never heard of is out of its reach, and the report says so.
 */
export async function lookUpByReference(
  query: RecordsQuery,
  report: { refKey: string; note: string },
  lookUp: (reference: string) => Promise<ProviderRecord | undefined>,
): Promise<RecordsPage> {
  const start = query.cursor !== undefined ? Number(query.cursor) : 0;
  const slice = query.references.slice(start, start + REFERENCES_PER_PAGE);
  const records: ProviderRecord[] = [];
  // One at a time: a provider with a per-second limit sees a trickle, never a burst.
  for (const reference of slice) {
    const record = await lookUp(reference);
    if (record) records.push(record);
  }
  const next = start + slice.length;
  return {
    coverage: 'per-reference',
    refKey: report.refKey,
    note: report.note,
    records,
    ...(next < query.references.length ? { nextCursor: String(next) } : {}),
  };
}
