import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { accessDocumentFor } from '../src/access/principals';
import { createInvoiceClient, type InvoiceClient } from '../src/client';
import { loadConfig, type Config } from '../src/config';
import { startCluster } from '../src/dev/cluster';
import { startStoreProcess } from '../src/dev/store';
import type { Logger } from '../src/logger';
import { connectClient } from '../src/temporal/connection';
import { freePort, startTemporal, type TemporalServer } from '../src/temporal/dev-server';
import type { BenchArgs } from './args';
import { findTemporalServerPid, ProcessMonitor } from './proc';
import type { MemoryReport, ParentMessage, ServiceMessage, WorkerMessage } from './protocol';

export const BENCH_API_KEY = 'bench-service-key';

/**
 * Task-queue partitions. The server's default (4) is for spreading a busy queue over matching hosts; on one dev server
 * a task that lands on a partition with no poller waiting is forwarded or written to the backlog and read back, which
 * costs tens of milliseconds per task. Nothing durable depends on it.
 */
const PARTITIONS = (count: number) => ({
  'matching.numTaskqueueReadPartitions': count,
  'matching.numTaskqueueWritePartitions': count,
});

type ReadyMessage = Extract<WorkerMessage, { type: 'ready' }>;

export interface BenchStack {
  config: Config;
  server: TemporalServer;
  /** Where Temporal runs: a dev server this run started, a cluster this run started, or TEMPORAL_ADDRESS's. */
  target: 'dev' | 'cluster' | 'external';
  /** Temporal's persistence, as started: `memory`, the SQLite file with its pragmas, or the cluster's PostgreSQL. */
  temporalStore: { kind: 'external' | 'memory' | 'file' | 'postgresql'; pragmas: readonly string[] };
  /** The orchestrator's store that the workers and the gateway record events in. */
  orchestratorStore: 'embedded' | 'cluster' | 'external';
  /** Its connection URL (the cost mode registers a webhook endpoint there). */
  storeUrl: string;
  /** Extra dev-server dynamic config this run chose. */
  dynamicConfig: Record<string, unknown>;
  temporalCliVersion?: string;
  sandboxUrl: string;
  gatewayUrl: string;
  client: Client;
  invoices: InvoiceClient;
  /** The worker processes (`--workers`); the first one answers memory questions. */
  worker: { pids: number[]; ready: ReadyMessage; memory(): Promise<MemoryReport> };
  /** The processes to measure, by row: read at each phase, since a cluster service that restarted has a new pid. */
  processes(): Record<string, number[]>;
  /** A monitor of those processes for one phase, PostgreSQL's backends counted with its postmaster. */
  monitor(): ProcessMonitor;
  stop(): Promise<void>;
}

function cliVersion(cliPath: string | undefined): string | undefined {
  if (!cliPath) return undefined;
  const result = spawnSync(cliPath, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/**
 * BENCH_CPU_PROF_DIR: V8 CPU profiles of a child's threads, written when it exits (open in Chrome DevTools, or
 * summarise with `npm run bench:profile`). A folder per role, since Node names the files by pid and thread only.
 */
function cpuProfileArgs(env: NodeJS.ProcessEnv, role: string): string[] {
  const dir = env.BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, role)}`] : [];
}

function spawnWorker(env: NodeJS.ProcessEnv, n: number): Promise<{ child: ChildProcess; ready: ReadyMessage }> {
  return spawnReady<WorkerMessage>('worker.ts', env, cpuProfileArgs(env, `worker-${n}`));
}

/** A child started with `node --import tsx`, resolved on its `ready` message. */
async function spawnReady<M extends { type: string }>(
  script: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcess; ready: Extract<M, { type: 'ready' }> }> {
  // `node --import tsx` rather than the tsx CLI: the CLI runs the script in a grandchild, and the pid we sample must be
  // the process that does the work.
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(__dirname, script)], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Extract<M, { type: 'ready' }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench ${script} was not ready within 120 s`)), 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench ${script} exited (${code ?? 'signal'}) before it was ready`));
    });
    child.on('message', (message: M) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message as Extract<M, { type: 'ready' }>);
    });
  });
  return { child, ready };
}

function askMemory(child: ChildProcess): Promise<MemoryReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the bench worker did not report its memory')), 10_000);
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== 'memory') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.memory);
    };
    child.on('message', onMessage);
    const ask: ParentMessage = { type: 'memory' };
    child.send(ask);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  // A child ended by a signal has no exit code but a signal code; either way its 'exit' event is past.
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop: ParentMessage = { type: 'stop' };
  // A child whose channel is already gone (it crashed, or a signal reached it first) is asked the blunt way.
  if (child.connected) child.send(stop);
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Temporal for the run: the dev server, a cluster of our own (`--target cluster`), or TEMPORAL_ADDRESS's. */
async function startServer(
  args: BenchArgs,
  config: Config,
  logger: Logger,
): Promise<{
  server: TemporalServer;
  target: BenchStack['target'];
  temporalStore: BenchStack['temporalStore'];
  storeUrl?: string;
  pids(): Record<string, number[]>;
}> {
  if (config.temporal.address) {
    const server = await startTemporal(config, logger);
    return { server, target: 'external', temporalStore: { kind: 'external', pragmas: [] }, pids: () => ({}) };
  }
  if (args.target === 'cluster') {
    // PostgreSQL, Temporal's four services each in its own process, and the orchestrator's store as a database on
    // the same PostgreSQL: what `npm run cluster` runs, on ports of its own, in the run's temporary folder.
    const cluster = await startCluster(config, logger, { ephemeral: true });
    const pids = () => Object.fromEntries(cluster.supervisor.list().map((child) => [child.spec.name, [child.pid()]]));
    return {
      server: cluster,
      target: 'cluster',
      temporalStore: { kind: 'postgresql', pragmas: [] },
      storeUrl: cluster.storeUrl,
      pids,
    };
  }
  const server = await startTemporal(config, logger, {
    ephemeral: args.db === 'memory',
    dynamicConfig: args.partitions ? PARTITIONS(args.partitions) : undefined,
  });
  const port = server.address.split(':').pop() ?? '';
  const serverPid = findTemporalServerPid(port);
  return {
    server,
    target: 'dev',
    temporalStore:
      args.db === 'memory'
        ? { kind: 'memory', pragmas: [] }
        : { kind: 'file', pragmas: config.devServer.sqlitePragmas },
    pids: (): Record<string, number[]> => (serverPid ? { server: [serverPid] } : {}),
  };
}

/**
 * Temporal (see startServer); the orchestrator's store (the embedded one in its own process, or the cluster's); the
 * sandboxes, the gateway and the worker processes each in a child of their own; the client (the calling service)
 * alone in this process. Every part listens on a free loopback port, so a benchmark never collides with `npm start`
 * or the tests.
 */
export async function startBenchStack(args: BenchArgs, logger: Logger): Promise<BenchStack> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      await stop().catch((error: unknown) => logger.error({ err: error }, 'bench stop failed'));
    }
  };
  try {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'payorch-bench-'));
    // The cluster's PostgreSQL runs as an unprivileged account, which must reach its folder in here.
    chmodSync(dataDir, 0o755);
    const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
    stops.push(() => Promise.resolve(removeDataDir()));
    // Also on any exit the stop did not reach (an error on the way out): the folder can hold a whole PostgreSQL.
    process.once('exit', removeDataDir);
    const env: NodeJS.ProcessEnv = {
      // PayOne sends no webhooks: its pre-authorization is found by polling, first after 300 s by default. The cost
      // mode polls after 2 s (unless set) so a PayOne invoice completes in seconds; its actions then show one poll.
      ...(args.mode === 'cost' ? { INVOICE_POLL_AFTER_SECONDS: '2' } : {}),
      ...process.env,
      // Per-invoice info logs would cost the worker and gateway more than some of what is measured.
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      SANDBOX_PORT: String(await freePort()),
      GATEWAY_PORT: String(await freePort()),
      GATEWAY_HOST: '127.0.0.1',
      // Webhooks are what the gateway does in the benchmark; a service key only has to exist for it to start.
      GATEWAY_KEYS: JSON.stringify(
        accessDocumentFor([
          { id: 'bench-service', tenant: 'bench', roles: ['invoices:create', 'invoices:read'], key: BENCH_API_KEY },
        ]),
      ),
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_DB_FILE: path.join(dataDir, 'temporal.db'),
      CLUSTER_DATA_DIR: path.join(dataDir, 'cluster'),
    };
    const config = loadConfig(env);
    const started = await startServer(args, config, logger);
    const { server } = started;
    stops.push(() => server.stop());

    // STORE_DATABASE_URL names a store of the caller's; otherwise the cluster's database, or the embedded store in a
    // process of its own (PGlite runs every statement on its process's one thread: not the worker's or gateway's).
    let storeUrl = config.store.databaseUrl ?? started.storeUrl;
    let storePid: number | undefined;
    const orchestratorStore: BenchStack['orchestratorStore'] = config.store.databaseUrl
      ? 'external'
      : started.storeUrl
        ? 'cluster'
        : 'embedded';
    if (!storeUrl) {
      const embedded = await startStoreProcess({ dataDir: path.join(dataDir, 'store') });
      stops.push(() => embedded.stop());
      storeUrl = embedded.url;
      storePid = embedded.pid;
    }

    const client = await connectClient(config, { address: server.address, namespace: server.namespace });
    stops.push(() => client.connection.close());
    const invoices = createInvoiceClient({ client, timing: config.invoiceTiming, recordEvents: true });
    const childEnv: NodeJS.ProcessEnv = {
      ...env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      STORE_DATABASE_URL: storeUrl,
    };
    const sandboxes = await spawnReady<ServiceMessage>(
      'sandboxes.ts',
      {
        ...childEnv,
        BENCH_TIME_SCALE: String(args.timeScale),
        BENCH_FAULT_PROVIDER: args.provider,
        BENCH_FAULT_RATE: String(args.faultRate),
      },
      cpuProfileArgs(env, 'sandboxes'),
    );
    stops.push(() => stopChild(sandboxes.child));
    // The gateway opens the store first: its migrations run once, before the workers connect.
    const gateway = await spawnReady<ServiceMessage>('gateway.ts', childEnv, cpuProfileArgs(env, 'gateway'));
    stops.push(() => stopChild(gateway.child));

    const workers = await Promise.all(Array.from({ length: args.workers }, (_, i) => spawnWorker(childEnv, i + 1)));
    for (const worker of workers) stops.push(() => stopChild(worker.child));
    const first = workers[0];
    if (!first) throw new Error('--workers is at least 1');

    const workerPids = workers.map((worker) => worker.ready.pid);
    const processes = () => ({
      worker: workerPids,
      gateway: [gateway.ready.pid],
      sandboxes: [sandboxes.ready.pid],
      ...(storePid ? { store: [storePid] } : {}),
      ...started.pids(),
      driver: [process.pid],
    });
    return {
      config,
      server,
      target: started.target,
      temporalStore: started.temporalStore,
      orchestratorStore,
      storeUrl,
      dynamicConfig: started.target !== 'dev' || !args.partitions ? {} : PARTITIONS(args.partitions),
      temporalCliVersion: cliVersion(server.cliPath),
      sandboxUrl: sandboxes.ready.url,
      gatewayUrl: gateway.ready.url,
      client,
      invoices,
      worker: { pids: workerPids, ready: first.ready, memory: () => askMemory(first.child) },
      processes,
      // The cluster's PostgreSQL serves each connection from a backend process of its own.
      monitor: () => new ProcessMonitor(processes(), new Set(['postgres'])),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
