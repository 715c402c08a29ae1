import path from 'node:path';
import { createLogger, installTemporalRuntimeLogger } from '../src/logger';
import { parseArgs, UsageError, type BenchArgs } from './args';
import { baselineShape, driveBaseline, driveOurs, holdWaiting, type DriveContext } from './drive';
import { compareFiles, readResult } from './compare';
import { costMode } from './cost';
import { openLoop, sweep } from './open';
import { sampleProcess } from './proc';
import type { MemoryReport } from './protocol';
import {
  breakdownTable,
  describeMachine,
  gapsTable,
  markdownTable,
  resultStamp,
  writeResult,
  type Row,
} from './report';
import { BENCH_API_KEY, startBenchStack, type BenchStack } from './stack';
import { round } from './stats';
import { ratio, rounded, roundMap, sampleHistories, summarise, usageRows } from './summary';

const MiB = 1024 * 1024;
const TARGETS = { throughputRatio: 0.9, updateP99Ms: 100, actionsPerInvoice: 16, waitingRssMiB: 1024 };

function settings(args: BenchArgs, stack: BenchStack) {
  return {
    mode: args.mode,
    invoices: args.invoices,
    concurrency: args.concurrency,
    warmupPerKind: args.warmup,
    provider: args.provider,
    direction: args.direction,
    faultRate: args.faultRate,
    sandboxTimeScale: args.timeScale,
    ...(args.mode === 'open' || args.mode === 'sweep'
      ? {
          rates: args.rates,
          levels: args.levels,
          saturatedRate: args.saturatedRate,
          durationSeconds: args.durationSeconds,
          seed: args.seed,
        }
      : {}),
    order: 'warm-up (baseline, then ours), then baseline measured, then ours measured; same server and worker process',
    target: stack.target,
    workerProcesses: args.workers,
    temporalStore: stack.temporalStore,
    orchestratorStore: stack.orchestratorStore,
    temporalDynamicConfig: stack.dynamicConfig,
    workerTuning: stack.config.worker,
    effectiveWorkerTuning: stack.worker.ready.effectiveTuning,
    invoiceTiming: stack.config.invoiceTiming,
    logLevel: stack.config.logLevel,
    workflowBundles: { invoice: stack.worker.ready.invoiceBundle, baseline: stack.worker.ready.baselineBundle },
  };
}

async function throughput(args: BenchArgs, stack: BenchStack, ctx: DriveContext) {
  if (args.warmup > 0) {
    await driveBaseline(ctx, args.warmup, args.concurrency, 'warm base', 'warm');
    await driveOurs(ctx, args.warmup, args.concurrency, 'warm ours', 'warm');
  }
  const baselineMonitor = stack.monitor();
  baselineMonitor.start();
  const baselinePhase = await driveBaseline(ctx, args.invoices, args.concurrency, 'baseline', 'm');
  const baselineUsage = baselineMonitor.stop();

  const oursMonitor = stack.monitor();
  oursMonitor.start();
  const oursPhase = await driveOurs(ctx, args.invoices, args.concurrency, 'ours', 'm');
  const oursUsage = oursMonitor.stop();
  const workerHwm = Math.max(0, ...stack.worker.pids.map((pid) => sampleProcess(pid)?.hwmBytes ?? 0));

  const oursHistory = await sampleHistories(oursPhase.samples, args.historySample, (id) =>
    stack.invoices.handle(id).fetchHistory(),
  );
  const baselineHistory = await sampleHistories(baselinePhase.samples, args.historySample, (id) =>
    stack.client.workflow.getHandle(id).fetchHistory(),
  );

  const ours = summarise(oursPhase);
  const base = summarise(baselinePhase);
  const oursRows = usageRows(oursUsage, ours.completed);
  const baselineRows = usageRows(baselineUsage, base.completed);
  const processes = Object.fromEntries(
    Object.keys(oursRows).map((name) => [name, { ours: oursRows[name], baseline: baselineRows[name] }]),
  );
  const workerPeakRssMiB = round((oursUsage.worker?.peakRssBytes ?? 0) / MiB, 0);
  const happyAlfred = args.provider === 'alfred' && args.direction === 'pay_out' && args.faultRate === 0;
  const result = {
    mode: 'throughput' as const,
    invoicesPerSecond: round(ours.perSecond, 2),
    baselineInvoicesPerSecond: round(base.perSecond, 2),
    throughputRatio: ratio(ours.perSecond, base.perSecond),
    e2eP50Ms: round(ours.e2e.p50),
    e2eP95Ms: round(ours.e2e.p95),
    e2eP99Ms: round(ours.e2e.p99),
    baselineE2eP50Ms: round(base.e2e.p50),
    baselineE2eP95Ms: round(base.e2e.p95),
    baselineE2eP99Ms: round(base.e2e.p99),
    e2eP50Ratio: ratio(ours.e2e.p50, base.e2e.p50),
    e2eP99Ratio: ratio(ours.e2e.p99, base.e2e.p99),
    updateP50Ms: round(ours.update.p50),
    updateP95Ms: round(ours.update.p95),
    updateP99Ms: round(ours.update.p99),
    baselineUpdateP50Ms: round(base.update.p50),
    baselineUpdateP95Ms: round(base.update.p95),
    baselineUpdateP99Ms: round(base.update.p99),
    updateP50Ratio: ratio(ours.update.p50, base.update.p50),
    updateP99Ratio: ratio(ours.update.p99, base.update.p99),
    actionsPerInvoice: round(oursHistory.actions, 2),
    baselineActionsPerInvoice: round(baselineHistory.actions, 2),
    actionsBreakdown: roundMap(oursHistory.actionsByType),
    baselineActionsBreakdown: roundMap(baselineHistory.actionsByType),
    driverQueriesPerInvoice: round(ours.queriesPerInvoice, 2),
    baselineDriverQueriesPerInvoice: round(base.queriesPerInvoice, 2),
    actionsWithQueriesPerInvoice: round(oursHistory.actions + ours.queriesPerInvoice, 2),
    historyEventsPerInvoice: round(oursHistory.events, 2),
    baselineHistoryEventsPerInvoice: round(baselineHistory.events, 2),
    historyEventsBreakdown: roundMap(oursHistory.eventsByType),
    baselineHistoryEventsBreakdown: roundMap(baselineHistory.eventsByType),
    workflowTasksPerInvoice: round(oursHistory.workflowTasks, 2),
    baselineWorkflowTasksPerInvoice: round(baselineHistory.workflowTasks, 2),
    historyGapsMs: roundMap(oursHistory.gapsMs),
    baselineHistoryGapsMs: roundMap(baselineHistory.gapsMs),
    historySpanMs: { ours: round(oursHistory.spanMs), baseline: round(baselineHistory.spanMs) },
    historiesSampled: { ours: oursHistory.sampled, baseline: baselineHistory.sampled },
    workerPeakRssMiB,
    workerHighWaterMarkMiB: round(workerHwm / MiB, 0),
    workerCpuCores: processes.worker?.ours?.cores,
    processes,
    completed: { ours: ours.completed, baseline: base.completed },
    failed: { ours: ours.failed, baseline: base.failed },
    errors: { ours: ours.errors, baseline: base.errors },
    wallSeconds: { ours: round(ours.wallSeconds, 1), baseline: round(base.wallSeconds, 1) },
    latencyMs: {
      ours: { e2e: rounded(ours.e2e), update: rounded(ours.update) },
      baseline: { e2e: rounded(base.e2e), update: rounded(base.update) },
    },
    baselineShape: baselineShape(args.provider, args.direction),
    targets: {
      throughputRatio: {
        target: `>= ${TARGETS.throughputRatio}`,
        met: ours.perSecond / base.perSecond >= TARGETS.throughputRatio,
      },
      updateP99Ms: { target: `<= ${TARGETS.updateP99Ms}`, met: ours.update.p99 <= TARGETS.updateP99Ms },
      actionsPerInvoice: {
        target: `<= ${TARGETS.actionsPerInvoice} (alfred pay-out, happy path)`,
        met: happyAlfred ? oursHistory.actions <= TARGETS.actionsPerInvoice : undefined,
      },
    },
  };

  const rows: Row[] = [
    {
      metric: 'Completed invoices / s',
      ours: result.invoicesPerSecond,
      baseline: result.baselineInvoicesPerSecond,
      ratio: result.throughputRatio,
      target: `ratio ≥ ${TARGETS.throughputRatio}`,
      met: result.targets.throughputRatio.met,
    },
    {
      metric: 'Start → COMPLETED p50 (ms)',
      ours: result.e2eP50Ms,
      baseline: result.baselineE2eP50Ms,
      ratio: result.e2eP50Ratio,
    },
    {
      metric: 'Start → COMPLETED p95 (ms)',
      ours: result.e2eP95Ms,
      baseline: result.baselineE2eP95Ms,
      ratio: ratio(ours.e2e.p95, base.e2e.p95),
    },
    {
      metric: 'Start → COMPLETED p99 (ms)',
      ours: result.e2eP99Ms,
      baseline: result.baselineE2eP99Ms,
      ratio: result.e2eP99Ratio,
    },
    {
      metric: 'Approval Update p50 (ms)',
      ours: result.updateP50Ms,
      baseline: result.baselineUpdateP50Ms,
      ratio: result.updateP50Ratio,
    },
    {
      metric: 'Approval Update p95 (ms)',
      ours: result.updateP95Ms,
      baseline: result.baselineUpdateP95Ms,
      ratio: ratio(ours.update.p95, base.update.p95),
    },
    {
      metric: 'Approval Update p99 (ms)',
      ours: result.updateP99Ms,
      baseline: result.baselineUpdateP99Ms,
      ratio: result.updateP99Ratio,
      target: `≤ ${TARGETS.updateP99Ms} ms`,
      met: result.targets.updateP99Ms.met,
    },
    {
      metric: 'Billable actions / invoice (history)',
      ours: result.actionsPerInvoice,
      baseline: result.baselineActionsPerInvoice,
      ratio: ratio(oursHistory.actions, baselineHistory.actions),
      target: `≤ ${TARGETS.actionsPerInvoice}`,
      met: result.targets.actionsPerInvoice.met,
    },
    {
      metric: 'Driver status queries / invoice',
      ours: result.driverQueriesPerInvoice,
      baseline: result.baselineDriverQueriesPerInvoice,
    },
    {
      metric: 'History events / invoice',
      ours: result.historyEventsPerInvoice,
      baseline: result.baselineHistoryEventsPerInvoice,
      ratio: ratio(oursHistory.events, baselineHistory.events),
    },
    {
      metric: 'Workflow tasks / invoice',
      ours: result.workflowTasksPerInvoice,
      baseline: result.baselineWorkflowTasksPerInvoice,
      ratio: ratio(oursHistory.workflowTasks, baselineHistory.workflowTasks),
    },
    {
      metric: 'Worker peak RSS (MiB)',
      ours: workerPeakRssMiB,
      baseline: processes.worker?.baseline?.peakRssMiB,
    },
  ];
  for (const [name, p] of Object.entries(processes)) {
    if (!p.ours) continue;
    rows.push({ metric: `${name} CPU (cores busy)`, ours: p.ours.cores, baseline: p.baseline?.cores });
    rows.push({
      metric: `${name} CPU ms / invoice`,
      ours: p.ours.cpuMsPerInvoice,
      baseline: p.baseline?.cpuMsPerInvoice,
      ratio: p.baseline ? ratio(p.ours.cpuMsPerInvoice, p.baseline.cpuMsPerInvoice) : undefined,
    });
  }
  rows.push({ metric: 'Failed invoices', ours: ours.failed, baseline: base.failed });

  const sections = [
    markdownTable(rows),
    `Billable actions per invoice, by Temporal Cloud's rules, mean of ${oursHistory.sampled} histories ` +
      `(ours) and ${baselineHistory.sampled} (baseline); queries are in the driver row above, not here:\n\n` +
      breakdownTable(oursHistory.actionsByType, baselineHistory.actionsByType),
    'History events per invoice, by type:\n\n' + breakdownTable(oursHistory.eventsByType, baselineHistory.eventsByType),
    "Where an invoice's time goes inside Temporal: time between consecutive history events, summed per pair of " +
      'event types (mean per invoice, the largest first):\n\n' +
      gapsTable(oursHistory.gapsMs, baselineHistory.gapsMs, {
        ours: oursHistory.spanMs,
        baseline: baselineHistory.spanMs,
      }),
  ];
  if (ours.errors.length || base.errors.length) {
    sections.push(`Errors (first distinct): ${JSON.stringify({ ours: ours.errors, baseline: base.errors })}`);
  }
  return { result, sections };
}

async function waiting(args: BenchArgs, stack: BenchStack, ctx: DriveContext) {
  const monitor = stack.monitor();
  monitor.start();
  let atWaiting: { rssBytes: number; memory?: MemoryReport } = { rssBytes: 0 };
  const held = await holdWaiting(ctx, args.invoices, args.concurrency, async () => {
    // Let the worker finish the tasks in flight and its GC settle before the reading that counts.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    atWaiting = {
      rssBytes: stack.worker.pids.reduce((sum, pid) => sum + (sampleProcess(pid)?.rssBytes ?? 0), 0),
      memory: await stack.worker.memory().catch(() => undefined),
    };
  });
  const usage = monitor.stop();
  const rssMiB = round(atWaiting.rssBytes / MiB, 0);
  const peakMiB = round((usage.worker?.peakRssBytes ?? 0) / MiB, 0);
  const result = {
    mode: 'waiting' as const,
    invoices: args.invoices,
    invoicesWaiting: held.waiting,
    failedStarts: held.failedStarts,
    startSeconds: round(held.startSeconds, 1),
    startsPerSecond: round(held.started / held.startSeconds, 1),
    allWaitingSeconds: round(held.allWaitingSeconds, 1),
    terminated: held.terminated,
    terminateSeconds: round(held.terminateSeconds, 1),
    workerRssAtWaitingMiB: rssMiB,
    workerPeakRssMiB: peakMiB,
    workerMemoryAtWaiting: atWaiting.memory && {
      heapUsedMiB: round(atWaiting.memory.heapUsedBytes / MiB, 0),
      heapTotalMiB: round(atWaiting.memory.heapTotalBytes / MiB, 0),
      externalMiB: round(atWaiting.memory.externalBytes / MiB, 0),
      arrayBuffersMiB: round(atWaiting.memory.arrayBuffersBytes / MiB, 0),
      v8Contexts: atWaiting.memory.contextsHeld,
    },
    processes: usageRows(usage, held.started),
    targets: {
      workerRssMiB: {
        target: `<= ${TARGETS.waitingRssMiB} with ${args.invoices} waiting`,
        met: held.waiting >= args.invoices && Math.max(rssMiB, peakMiB) <= TARGETS.waitingRssMiB,
      },
    },
  };
  const rows: Row[] = [
    { metric: 'Invoices at AWAITING_APPROVAL', ours: held.waiting, target: `${args.invoices}` },
    {
      metric: 'Worker RSS with all waiting (MiB)',
      ours: rssMiB,
      target: `≤ ${TARGETS.waitingRssMiB} MiB`,
      met: result.targets.workerRssMiB.met,
    },
    { metric: 'Worker peak RSS over the run (MiB)', ours: peakMiB },
    { metric: 'Worker heap used at waiting (MiB)', ours: result.workerMemoryAtWaiting?.heapUsedMiB },
    { metric: 'Starts / s', ours: result.startsPerSecond },
    { metric: 'Seconds until all waiting', ours: result.allWaitingSeconds },
    { metric: 'Seconds to terminate all', ours: result.terminateSeconds },
    { metric: 'Failed starts', ours: held.failedStarts },
  ];
  for (const [name, p] of Object.entries(result.processes)) {
    rows.push({ metric: `${name} CPU ms / invoice`, ours: p.cpuMsPerInvoice });
  }
  return { result, sections: [markdownTable(rows)] };
}

/** What the run offered, in its mode's terms. */
function load(args: BenchArgs): string {
  const closed = `${args.invoices} invoices, concurrency ${args.concurrency}`;
  switch (args.mode) {
    case 'open':
      return `open loop at ${args.rates.join(', ')}/s for ${args.durationSeconds} s each, seed ${args.seed}`;
    case 'sweep': {
      const saturation =
        args.saturatedRate === undefined
          ? `saturation by closed loop (${closed})`
          : `saturated rate given as ${args.saturatedRate}/s`;
      return (
        `${saturation}, then open loop at ${args.levels.join(', ')} % of it for ${args.durationSeconds} s each, ` +
        `seed ${args.seed}`
      );
    }
    case 'cost':
      return `${args.invoices} invoices of every provider and direction, concurrency ${args.concurrency}`;
    default:
      return closed;
  }
}

interface ModeOutcome {
  result: Record<string, unknown>;
  sections: string[];
  svg?: string;
}

function runMode(args: BenchArgs, stack: BenchStack, ctx: DriveContext): Promise<ModeOutcome> {
  switch (args.mode) {
    case 'waiting':
      return waiting(args, stack, ctx);
    case 'open':
      return openLoop(args, stack, ctx);
    case 'sweep':
      return sweep(args, stack, ctx);
    case 'cost':
      return costMode(args, stack, ctx);
    case 'throughput':
      return throughput(args, stack, ctx);
  }
}

async function run(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.compare && args.compareWith) {
    // Two result files and nothing to run: the report alone.
    process.stdout.write(`${compareFiles(args.compare, readResult(args.compareWith))}\n`);
    return;
  }
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  installTemporalRuntimeLogger(logger);
  const startedAt = new Date();
  process.stderr.write(`bench: starting the stack (${args.mode}: ${load(args)})\n`);
  const stack = await startBenchStack(args, logger);
  // Ctrl-C reaches the whole process group, and tsx relays it once more: a second signal must not cut the stop short
  // (the default action would), or the stack's temporary folder and children outlive the run.
  let stopping = false;
  const stopOnSignal = () => {
    if (stopping) return;
    stopping = true;
    void stack.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);
  try {
    const ctx: DriveContext = {
      client: stack.client,
      invoices: stack.invoices,
      api: { gatewayUrl: stack.gatewayUrl, apiKey: BENCH_API_KEY, sandboxUrl: stack.sandboxUrl },
      provider: args.provider,
      direction: args.direction,
      runId: `bench${resultStamp(startedAt).replace(/\D/g, '').slice(2, 14)}`,
    };
    const stamp = resultStamp(startedAt);
    const { result, sections, svg } = await runMode(args, stack, ctx);
    const machine = describeMachine(stack.temporalCliVersion);
    const json = { timestamp: startedAt.toISOString(), ...result, machine, settings: settings(args, stack) };
    const heading =
      `# Benchmark ${startedAt.toISOString()} (${args.mode})\n\n` +
      `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.totalMemGiB} GiB, ${machine.os}, Node ${machine.node}, ` +
      `${machine.temporalCli ?? 'Temporal at TEMPORAL_ADDRESS'}.\n\n` +
      `Settings: ${load(args)}, ${args.provider} ${args.direction}, ` +
      `faults ${args.faultRate}, sandbox time scale ${args.timeScale}, Temporal ${stack.target} on ` +
      `${stack.temporalStore.kind}${stack.temporalStore.pragmas.length ? ` (${stack.temporalStore.pragmas.join(', ')})` : ''}, ` +
      `orchestrator store ${stack.orchestratorStore}, ${args.workers} worker process(es), worker tuning ` +
      `${JSON.stringify(stack.config.worker)}, effective maxCachedWorkflows ` +
      `${stack.worker.ready.effectiveTuning.maxCachedWorkflows}.`;
    const plot = svg === undefined ? [] : [`![Latency against offered load](${stamp}.svg)`];
    const markdown = [heading, ...sections, ...plot].join('\n\n');
    const files = writeResult(args.outDir ?? path.join(__dirname, 'results'), stamp, json, markdown, svg);
    process.stdout.write(`\n${markdown}\n\nWritten: ${files.join('\n         ')}\n`);
    if (args.compare) process.stdout.write(`\n${compareFiles(args.compare, json)}\n`);
  } finally {
    await stack.stop();
  }
}

run().then(
  () => process.exit(0),
  (error: unknown) => {
    const usage = error instanceof UsageError;
    process.stderr.write(
      `${usage ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(usage ? 2 : 1);
  },
);
