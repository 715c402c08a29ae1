import { DIRECTIONS, PROVIDER_NAMES, type Direction, type ProviderName } from '../src/domain/constants';

export type BenchMode = 'throughput' | 'waiting' | 'open' | 'sweep' | 'cost';

export interface BenchArgs {
  mode: BenchMode;
  invoices: number;
  concurrency: number;
  provider: ProviderName;
  /** --provider was given: cost mode then runs that provider's directions only. */
  providerGiven: boolean;
  direction: Direction;
  /** Share of sandbox requests answered 503 (0 without --faults). */
  faultRate: number;
  /** Sandbox delays (alfred's payout, webhook backoff, token lifetime) times this. */
  timeScale: number;
  /** Invoices of each kind run first and left out of every figure: JIT, connection pools and caches warm up. */
  warmup: number;
  /** Completed invoices whose histories are read for events and actions. */
  historySample: number;
  /** 'file': a SQLite file with TEMPORAL_SQLITE_PRAGMAS, as `npm start` runs; 'memory': the CLI's in-memory store. */
  db: 'file' | 'memory';
  /** Task-queue partitions on the dev server; 0 leaves the server's default (4). */
  partitions: number;
  /** Open loop: arrival rates (invoices / s), each measured for ours and then the baseline. */
  rates: number[];
  /** Open loop: seconds of arrivals at each rate. */
  durationSeconds: number;
  /** The arrival schedule's seed: the same seed and rate give the same arrival times. */
  seed: number;
  /** Sweep: offered loads as percentages of the saturated rate. */
  levels: number[];
  /** Sweep: the saturated rate given, instead of measured (the same absolute loads on another target). */
  saturatedRate?: number;
  /** Where Temporal runs when TEMPORAL_ADDRESS is unset: a dev server, or a cluster of our own (npm run cluster's). */
  target: 'dev' | 'cluster';
  /** Worker processes, each with the invoice workers and the baseline worker. */
  workers: number;
  /** An earlier result file: the run ends with every figure's change against it. */
  compare?: string;
  /** With --compare: compare this result file instead of running anything. */
  compareWith?: string;
  /** Where results go; tests and trial runs can point elsewhere. */
  outDir?: string;
}

export const USAGE = `npm run bench -- [options]
  --mode throughput|waiting|open|sweep|cost
                              throughput (default): closed loop, N invoices end to end, then the same-shape baseline
                              waiting: start N invoices, hold them all at AWAITING_APPROVAL, sample worker RSS
                              open: Poisson arrivals at --rate for --duration, the baseline then ours (--rate implies it)
                              sweep: closed loop to find the saturated rate, then open loop at --levels % of it
                              cost: a few invoices of every provider x direction, billable actions from their histories
  --rate R[,R...]             open loop: arrivals per second (several: one measurement per rate)
  --duration S                open loop: seconds of arrivals per rate and kind (default 60)
  --seed N                    open loop: seed of the arrival times (default: random, printed)
  --sweep                     the same as --mode sweep
  --levels P[,P...]           sweep: percentages of the saturated rate (default 25,50,75)
  --saturated-rate R          sweep: take R invoices / s as the saturated rate instead of measuring it
  --cost, --all-providers     the same as --mode cost
  --target dev|cluster        dev (default): temporal server start-dev; cluster: npm run cluster's Temporal services on
                              PostgreSQL, started for the run on free ports
  --workers N                 worker processes (default 1)
  --compare FILE              end with every figure's change against an earlier result (a report, never a failure)
  --with FILE                 with --compare: compare FILE against it and run nothing
  --invoices N                invoices to drive (default 1000; waiting 10000; sweep's closed loop 300; cost 3 per pair)
  --concurrency N             invoices in flight at once (default 20; cost 4; waiting 50, starts in flight)
  --provider NAME             ${PROVIDER_NAMES.join('|')} (default alfred; cost mode: only this one, default all)
  --direction DIR             ${DIRECTIONS.join('|')} (default pay_out)
  --faults [RATE]             the provider's sandbox answers this share of requests 503 (default 0.1)
  --time-scale X              sandbox delays times X (default 0.01: alfred pays out 20 ms after approval)
  --warmup N                  unmeasured invoices of each kind first (default 2 x concurrency)
  --history-sample N          histories read for events and actions (default 20)
  --db file|memory            dev-server store (default file, with TEMPORAL_SQLITE_PRAGMAS)
  --partitions N              dev-server task-queue partitions (default: the server's own)
  --out DIR                   results folder (default bench/results)
Worker tuning comes from the environment, as for the real worker: WORKER_MAX_CACHED_WORKFLOWS,
WORKER_MAX_CONCURRENT_ACTIVITIES, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS, WORKER_WORKFLOW_POLLERS,
WORKER_ACTIVITY_POLLERS, WORKER_REUSE_V8_CONTEXT; TEMPORAL_ADDRESS uses an existing cluster.`;

export class UsageError extends Error {}

function positive(name: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!raw || !Number.isFinite(value) || value <= 0) throw new UsageError(`${name} needs a positive number`);
  return value;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T {
  const found = allowed.find((value) => value === raw);
  if (!found) throw new UsageError(`${name} is one of ${allowed.join(', ')}`);
  return found;
}

function list(name: string, raw: string | undefined): number[] {
  const values = (raw ?? '').split(',').map((part) => positive(name, part.trim()));
  if (values.length === 0) throw new UsageError(`${name} needs a number`);
  return values;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  let mode = 'throughput' as BenchMode;
  let invoices: number | undefined;
  let concurrency: number | undefined;
  let provider: ProviderName = 'alfred';
  let providerGiven = false;
  let direction: Direction = 'pay_out';
  let faultRate = 0;
  let timeScale = 0.01;
  let warmup: number | undefined;
  let historySample = 20;
  let db: BenchArgs['db'] = 'file';
  let outDir: string | undefined;
  let partitions = 0;
  let modeSet = false;
  let rates: number[] = [];
  let durationSeconds = 60;
  let seed: number | undefined;
  let levels = [25, 50, 75];
  let saturatedRate: number | undefined;
  let target: BenchArgs['target'] = 'dev';
  let workers = 1;
  let compare: string | undefined;
  let compareWith: string | undefined;
  const setMode = (next: BenchMode) => {
    if (modeSet && mode !== next) throw new UsageError(`--mode ${mode} and ${next} cannot go together`);
    mode = next;
    modeSet = true;
  };

  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    const [name, inline] = flag.includes('=') ? flag.split('=', 2) : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case '--mode':
        setMode(oneOf('--mode', value(), ['throughput', 'waiting', 'open', 'sweep', 'cost'] as const));
        break;
      case '--rate':
        rates = list('--rate', value());
        if (!modeSet) setMode('open');
        break;
      case '--duration':
        durationSeconds = positive('--duration', value());
        break;
      case '--seed': {
        seed = Number(value());
        if (!Number.isInteger(seed) || seed < 0) throw new UsageError('--seed needs a whole number');
        break;
      }
      case '--sweep':
        setMode('sweep');
        break;
      case '--levels':
        levels = list('--levels', value());
        break;
      case '--saturated-rate':
        saturatedRate = positive('--saturated-rate', value());
        break;
      case '--cost':
      case '--all-providers':
        setMode('cost');
        break;
      case '--target':
        target = oneOf('--target', value(), ['dev', 'cluster'] as const);
        break;
      case '--workers':
        workers = Math.floor(positive('--workers', value()));
        break;
      case '--compare':
        compare = value();
        break;
      case '--with':
        compareWith = value();
        break;
      case '--invoices':
        invoices = Math.floor(positive('--invoices', value()));
        break;
      case '--concurrency':
        concurrency = Math.floor(positive('--concurrency', value()));
        break;
      case '--provider':
        provider = oneOf('--provider', value(), PROVIDER_NAMES);
        providerGiven = true;
        break;
      case '--direction':
        direction = oneOf('--direction', value(), DIRECTIONS);
        break;
      case '--faults': {
        // The rate is optional: a bare --faults means 10 %.
        const next = inline ?? argv[i + 1];
        if (next !== undefined && /^(0?\.\d+|1(\.0*)?)$/.test(next)) {
          faultRate = Number(next);
          if (inline === undefined) i++;
        } else {
          faultRate = 0.1;
        }
        break;
      }
      case '--time-scale':
        timeScale = positive('--time-scale', value());
        break;
      case '--warmup': {
        const raw = value();
        warmup = Number(raw);
        if (!Number.isInteger(warmup) || warmup < 0) throw new UsageError('--warmup needs a whole number');
        break;
      }
      case '--history-sample':
        historySample = Math.floor(positive('--history-sample', value()));
        break;
      case '--db':
        db = oneOf('--db', value(), ['file', 'memory'] as const);
        break;
      case '--partitions': {
        partitions = Number(value());
        if (!Number.isInteger(partitions) || partitions < 0) throw new UsageError('--partitions needs a whole number');
        break;
      }
      case '--out':
        outDir = value();
        break;
      case '--help':
      case '-h':
        throw new UsageError(USAGE);
      default:
        throw new UsageError(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (mode === 'open' && rates.length === 0) throw new UsageError('--mode open needs --rate');
  if (compareWith && !compare) throw new UsageError('--with goes with --compare');
  const defaultConcurrency = mode === 'waiting' ? 50 : mode === 'cost' ? 4 : 20;
  const resolvedConcurrency = concurrency ?? defaultConcurrency;
  const defaultInvoices = { throughput: 1_000, waiting: 10_000, open: 0, sweep: 300, cost: 3 }[mode];
  return {
    mode,
    invoices: invoices ?? defaultInvoices,
    concurrency: resolvedConcurrency,
    provider,
    providerGiven,
    direction,
    faultRate,
    timeScale,
    warmup: warmup ?? (mode === 'waiting' || mode === 'cost' ? 0 : 2 * resolvedConcurrency),
    historySample,
    db,
    partitions,
    rates,
    durationSeconds,
    // Printed with the results, so a run's arrivals can be replayed.
    seed: seed ?? Math.floor(Math.random() * 2 ** 31),
    levels,
    saturatedRate,
    target,
    workers,
    compare,
    compareWith,
    outDir,
  };
}
