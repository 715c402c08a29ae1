// Open-loop modes: invoices arrive at a fixed rate whatever the stack's pace (`--rate`), and the sweep that finds the
// saturated rate with the closed loop first and then offers fractions of it (`--sweep`).
import type { BenchArgs } from './args';
import {
  baselineRunner,
  driveBaseline,
  driveOurs,
  openPhase,
  oursRunner,
  poissonArrivals,
  type DriveContext,
  type OpenPhaseResult,
} from './drive';
import { latencySvg, type LoadPoint } from './plot';
import type { BenchStack } from './stack';
import { round } from './stats';
import { rounded, summarise, usageRows } from './summary';

async function measureOpen(
  stack: BenchStack,
  run: () => Promise<OpenPhaseResult>,
  rate: number,
): Promise<ReturnType<typeof openFigures>> {
  const monitor = stack.monitor();
  monitor.start();
  const phase = await run();
  return openFigures(phase, rate, usageRows(monitor.stop(), phase.samples.filter((s) => s.ok).length));
}

function openFigures(phase: OpenPhaseResult, rate: number, processes: ReturnType<typeof usageRows>) {
  const summary = summarise(phase);
  return {
    offeredPerSecond: round(rate, 2),
    arrivals: phase.arrivals,
    arrivalsPerSecond: round(phase.arrivals / phase.windowSeconds, 2),
    completed: summary.completed,
    failed: summary.failed,
    errors: summary.errors,
    completedPerSecond: round(summary.perSecond, 2),
    latencyMs: {
      awaiting: rounded(summary.awaiting),
      update: rounded(summary.update),
      e2e: rounded(summary.e2e),
    },
    inFlightAtWindowEnd: phase.inFlightAtWindowEnd,
    peakInFlight: phase.peakInFlight,
    drainSeconds: round(phase.drainSeconds, 1),
    maxStartLagMs: round(phase.maxStartLagMs),
    driverQueriesPerInvoice: round(summary.queriesPerInvoice, 2),
    processes,
  };
}

type OpenFigures = ReturnType<typeof openFigures>;

export interface RateResult {
  rate: number;
  /** Seed of this rate's arrivals: both kinds are offered the same schedule. */
  seed: number;
  baseline: OpenFigures;
  ours: OpenFigures;
}

/** Each rate in turn: the baseline, then ours, offered the same Poisson arrivals on the same stack. */
async function measureRates(
  args: BenchArgs,
  stack: BenchStack,
  ctx: DriveContext,
  rates: readonly number[],
): Promise<RateResult[]> {
  const results: RateResult[] = [];
  for (const [index, rate] of rates.entries()) {
    const seed = (args.seed + index) >>> 0;
    const arrivals = poissonArrivals(rate, args.durationSeconds, seed);
    process.stderr.write(
      `bench: ${rate}/s for ${args.durationSeconds} s: ${arrivals.length} arrivals (seed ${seed})\n`,
    );
    const prefix = `o${index}-`;
    const baseline = await measureOpen(
      stack,
      () => openPhase(baselineRunner(ctx, prefix), arrivals, args.durationSeconds * 1000, `base ${rate}/s`),
      rate,
    );
    const ours = await measureOpen(
      stack,
      () => openPhase(oursRunner(ctx, prefix), arrivals, args.durationSeconds * 1000, `ours ${rate}/s`),
      rate,
    );
    results.push({ rate: round(rate, 2), seed, baseline, ours });
  }
  return results;
}

async function warmUp(args: BenchArgs, ctx: DriveContext): Promise<void> {
  if (args.warmup === 0) return;
  await driveBaseline(ctx, args.warmup, args.concurrency, 'warm base', 'warm');
  await driveOurs(ctx, args.warmup, args.concurrency, 'warm ours', 'warm');
}

function cell(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 0 : 1);
}

/** One row per rate and kind: what was offered, what completed, the three latencies and the CPU per invoice. */
function ratesTable(results: readonly RateResult[]): string {
  const names = [...new Set(results.flatMap((r) => [...Object.keys(r.ours.processes)]))];
  const lines = [
    `| Offered / s | Kind | Arrivals (realised / s) | Completed / s | Failed | → AWAITING p50 / p99 (ms) | Update p50 / p99 (ms) | ` +
      `→ COMPLETED p50 / p99 (ms) | In flight at end | Drain (s) | ${names.map((n) => `${n} CPU ms / inv`).join(' | ')} |`,
    `|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|${names.map(() => '---:').join('|')}|`,
  ];
  for (const r of results) {
    for (const [kind, f] of [
      ['baseline', r.baseline],
      ['ours', r.ours],
    ] as const) {
      const l = f.latencyMs;
      lines.push(
        `| ${cell(r.rate)} | ${kind} | ${f.arrivals} (${cell(f.arrivalsPerSecond)}/s) | ${cell(f.completedPerSecond)} | ` +
          `${f.failed} | ` +
          `${cell(l.awaiting.p50)} / ${cell(l.awaiting.p99)} | ${cell(l.update.p50)} / ${cell(l.update.p99)} | ` +
          `${cell(l.e2e.p50)} / ${cell(l.e2e.p99)} | ${f.inFlightAtWindowEnd} | ${cell(f.drainSeconds)} | ` +
          `${names.map((n) => (f.processes[n] ? cell(f.processes[n].cpuMsPerInvoice) : '')).join(' | ')} |`,
      );
    }
  }
  return lines.join('\n');
}

function loadPoints(results: readonly RateResult[]): LoadPoint[] {
  const pick = (f: OpenFigures) => ({
    awaiting: { p50: f.latencyMs.awaiting.p50, p99: f.latencyMs.awaiting.p99 },
    update: { p50: f.latencyMs.update.p50, p99: f.latencyMs.update.p99 },
    e2e: { p50: f.latencyMs.e2e.p50, p99: f.latencyMs.e2e.p99 },
  });
  return results.map((r) => ({ rate: r.rate, ours: pick(r.ours), baseline: pick(r.baseline) }));
}

export interface OpenOutcome {
  result: Record<string, unknown>;
  sections: string[];
  /** The latency-against-load figure, written beside the results as `<stamp>.svg`. */
  svg: string;
}

function outcome(
  args: BenchArgs,
  results: RateResult[],
  extra: Record<string, unknown>,
  intro: string[],
  caption: string,
): OpenOutcome {
  return {
    result: {
      mode: args.mode,
      seed: args.seed,
      durationSeconds: args.durationSeconds,
      ...extra,
      rates: results,
    },
    sections: [
      ...intro,
      `Open loop: Poisson arrivals for ${args.durationSeconds} s per rate and kind (seed ${args.seed}; rate i uses ` +
        `seed + i), the baseline first, then ours offered the same arrivals. Latencies count from each arrival's ` +
        `scheduled moment; → AWAITING is when the driver's status query first saw it.\n\n` +
        ratesTable(results),
    ],
    svg: latencySvg(loadPoints(results), caption),
  };
}

export async function openLoop(args: BenchArgs, stack: BenchStack, ctx: DriveContext): Promise<OpenOutcome> {
  process.stderr.write(`bench: open loop, seed ${args.seed}\n`);
  await warmUp(args, ctx);
  const results = await measureRates(args, stack, ctx, args.rates);
  return outcome(args, results, {}, [], `open loop, ${args.durationSeconds} s per rate, seed ${args.seed}`);
}

/**
 * The saturated rate is the closed loop's throughput at `--concurrency` (ours: the stack's ceiling for our invoices);
 * the open loop then offers `--levels` percent of it to ours and to the baseline alike, so both are compared at the
 * same absolute load.
 */
export async function sweep(args: BenchArgs, stack: BenchStack, ctx: DriveContext): Promise<OpenOutcome> {
  process.stderr.write(`bench: sweep, seed ${args.seed}\n`);
  await warmUp(args, ctx);
  // Given (another target's figure, so both are offered the same absolute loads), or the closed loop's throughput.
  const measured =
    args.saturatedRate === undefined
      ? {
          baseline: summarise(await driveBaseline(ctx, args.invoices, args.concurrency, 'sat base', 's')).perSecond,
          ours: summarise(await driveOurs(ctx, args.invoices, args.concurrency, 'sat ours', 's')).perSecond,
        }
      : undefined;
  const saturated = args.saturatedRate ?? measured?.ours ?? 0;
  const rates = args.levels.map((level) => round((saturated * level) / 100, 2));
  process.stderr.write(
    `bench: saturated at ${round(saturated, 2)}/s (${measured ? `baseline ${round(measured.baseline, 2)}/s` : 'given'}); ` +
      `measuring ${rates.join(', ')}/s\n`,
  );
  const results = await measureRates(args, stack, ctx, rates);
  const saturation = {
    source: measured ? ('closed loop' as const) : ('--saturated-rate' as const),
    concurrency: args.concurrency,
    invoices: args.invoices,
    oursPerSecond: round(saturated, 2),
    baselinePerSecond: measured ? round(measured.baseline, 2) : undefined,
    levelsPercent: args.levels,
  };
  return outcome(
    args,
    results,
    { saturation },
    [
      (measured
        ? `Saturated rate (closed loop, concurrency ${args.concurrency}, ${args.invoices} invoices of each kind): ` +
          `ours ${saturation.oursPerSecond}/s, baseline ${saturation.baselinePerSecond}/s`
        : `Saturated rate given (--saturated-rate): ${saturation.oursPerSecond}/s`) +
        `; offered ${args.levels.join(', ')} % of it: ${rates.join(', ')}/s.`,
    ],
    `sweep: ${args.levels.join('/')} % of ours' saturated ${saturation.oursPerSecond}/s, ` +
      `${args.durationSeconds} s per point, seed ${args.seed}`,
  );
}
