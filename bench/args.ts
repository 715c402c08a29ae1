import { DIRECTIONS, PROVIDER_NAMES, type Direction, type ProviderName } from '../src/domain/constants';

export type BenchMode = 'throughput' | 'waiting';

export interface BenchArgs {
  mode: BenchMode;
  invoices: number;
  concurrency: number;
  provider: ProviderName;
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
  /** Where results go; tests and trial runs can point elsewhere. */
  outDir?: string;
}

export const USAGE = `npm run bench -- [options]
  --mode throughput|waiting   throughput (default): N invoices end to end, then the same-shape baseline
                              waiting: start N invoices, hold them all at AWAITING_APPROVAL, sample worker RSS
  --invoices N                invoices to drive (default 1000)
  --concurrency N             invoices in flight at once (default 20; waiting mode: starts in flight)
  --provider NAME             ${PROVIDER_NAMES.join('|')} (default alfred)
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

export function parseArgs(argv: readonly string[]): BenchArgs {
  let mode: BenchMode = 'throughput';
  let invoices: number | undefined;
  let concurrency: number | undefined;
  let provider: ProviderName = 'alfred';
  let direction: Direction = 'pay_out';
  let faultRate = 0;
  let timeScale = 0.01;
  let warmup: number | undefined;
  let historySample = 20;
  let db: BenchArgs['db'] = 'file';
  let outDir: string | undefined;
  let partitions = 0;

  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    const [name, inline] = flag.includes('=') ? flag.split('=', 2) : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case '--mode':
        mode = oneOf('--mode', value(), ['throughput', 'waiting'] as const);
        break;
      case '--invoices':
        invoices = Math.floor(positive('--invoices', value()));
        break;
      case '--concurrency':
        concurrency = Math.floor(positive('--concurrency', value()));
        break;
      case '--provider':
        provider = oneOf('--provider', value(), PROVIDER_NAMES);
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
  const defaultConcurrency = mode === 'waiting' ? 50 : 20;
  const resolvedConcurrency = concurrency ?? defaultConcurrency;
  return {
    mode,
    invoices: invoices ?? (mode === 'waiting' ? 10_000 : 1_000),
    concurrency: resolvedConcurrency,
    provider,
    direction,
    faultRate,
    timeScale,
    warmup: warmup ?? (mode === 'waiting' ? 0 : 2 * resolvedConcurrency),
    historySample,
    db,
    partitions,
    outDir,
  };
}
