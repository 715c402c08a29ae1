// Figures shared by every mode: a phase's latencies and its processes' CPU per invoice.
import type { History } from '@temporalio/common/lib/proto-utils';
import type { InvoiceSample, PhaseResult } from './drive';
import { countHistory, meanCounts, type HistoryCounts } from './history';
import type { ProcessUsage } from './proc';
import { distribution, round, type Distribution } from './stats';

const MiB = 1024 * 1024;

export function summarise(phase: PhaseResult) {
  const ok = phase.samples.filter((s) => s.ok);
  const pick = (value: (s: InvoiceSample) => number | undefined) =>
    ok.flatMap((s) => {
      const v = value(s);
      return v === undefined ? [] : [v];
    });
  const errors = [...new Set(phase.samples.flatMap((s) => (s.error ? [s.error] : [])))].slice(0, 5);
  return {
    completed: ok.length,
    failed: phase.samples.length - ok.length,
    errors,
    wallSeconds: phase.wallSeconds,
    perSecond: ok.length / phase.wallSeconds,
    awaiting: distribution(pick((s) => s.awaitingMs)),
    e2e: distribution(ok.map((s) => s.e2eMs)),
    update: distribution(pick((s) => s.updateMs)),
    queriesPerInvoice: phase.samples.length
      ? phase.samples.reduce((sum, s) => sum + s.queries, 0) / phase.samples.length
      : 0,
  };
}

export type PhaseSummary = ReturnType<typeof summarise>;

export function rounded(d: Distribution) {
  return { p50: round(d.p50), p95: round(d.p95), p99: round(d.p99), max: round(d.max), mean: round(d.mean) };
}

export function roundMap(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, round(value, 2)]));
}

export function ratio(ours: number, baseline: number): number {
  return baseline ? round(ours / baseline, 2) : 0;
}

export interface UsageRow {
  cores: number;
  cpuMsPerInvoice: number;
  peakRssMiB: number;
}

/** Each measured process's CPU over the phase, per invoice completed in it. */
export function usageRows(usage: Record<string, ProcessUsage>, invoices: number): Record<string, UsageRow> {
  return Object.fromEntries(
    Object.entries(usage).map(([name, u]) => [
      name,
      {
        cores: round(u.cores, 2),
        cpuMsPerInvoice: round((u.cpuSeconds * 1000) / Math.max(invoices, 1), 1),
        peakRssMiB: round(u.peakRssBytes / MiB, 0),
      },
    ]),
  );
}

/** Up to `size` completed invoices spread over the phase, their histories counted and averaged. */
export async function sampleHistories(
  samples: readonly InvoiceSample[],
  size: number,
  fetch: (id: string) => Promise<History>,
): Promise<HistoryCounts & { sampled: number }> {
  const ok = samples.filter((s) => s.ok);
  const step = Math.max(1, Math.floor(ok.length / size));
  const picked = ok.filter((_, i) => i % step === 0).slice(0, size);
  const counts = await Promise.all(picked.map(async (s) => countHistory(await fetch(s.id))));
  return { ...meanCounts(counts), sampled: counts.length };
}
