import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { accessDocumentFor } from '../src/access/principals';
import { createInvoiceClient, type InvoiceClient } from '../src/client';
import { loadConfig, type Config } from '../src/config';
import type { Logger } from '../src/logger';
import { connectClient } from '../src/temporal/connection';
import { freePort, startTemporal, type TemporalServer } from '../src/temporal/dev-server';
import type { BenchArgs } from './args';
import { findTemporalServerPid } from './proc';
import type { MemoryReport, ParentMessage, WorkerMessage, WorldMessage } from './protocol';

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
  /** Set when this run started the dev server (not with TEMPORAL_ADDRESS). */
  serverPid?: number;
  /** The dev server's store, as started: `memory`, or the SQLite file with its pragmas. */
  store: { kind: 'external' | 'memory' | 'file'; pragmas: readonly string[] };
  /** Extra dev-server dynamic config this run chose. */
  dynamicConfig: Record<string, unknown>;
  temporalCliVersion?: string;
  /** The sandboxes and the gateway, in their own process (bench/world.ts). */
  world: WorldMessage;
  client: Client;
  invoices: InvoiceClient;
  worker: { pid: number; ready: ReadyMessage; memory(): Promise<MemoryReport> };
  stop(): Promise<void>;
}

function cliVersion(cliPath: string | undefined): string | undefined {
  if (!cliPath) return undefined;
  const result = spawnSync(cliPath, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** BENCH_CPU_PROF_DIR: V8 CPU profiles of a child's threads, written there when it exits (open in Chrome DevTools). */
function cpuProfileArgs(env: NodeJS.ProcessEnv): string[] {
  return env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${env.BENCH_CPU_PROF_DIR}`] : [];
}

function spawnWorker(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; ready: ReadyMessage }> {
  return spawnReady<WorkerMessage>('worker.ts', env, cpuProfileArgs(env));
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
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop: ParentMessage = { type: 'stop' };
  child.send(stop);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The dev server (or TEMPORAL_ADDRESS); the sandboxes and the gateway in one child, the worker in another; the client
 * (the calling service) alone in this process. Every
 * part listens on a free loopback port, so a benchmark never collides with `npm start` or the tests.
 */
export async function startBenchStack(args: BenchArgs, logger: Logger): Promise<BenchStack> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      await stop().catch((error: unknown) => logger.error({ err: error }, 'bench stop failed'));
    }
  };
  try {
    const gatewayPort = await freePort();
    const external = Boolean(process.env.TEMPORAL_ADDRESS);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'payorch-bench-'));
    stops.push(() => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // Per-invoice info logs would cost the worker and gateway more than some of what is measured.
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      SANDBOX_PORT: String(await freePort()),
      GATEWAY_PORT: String(gatewayPort),
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
    };
    const config = loadConfig(env);
    const server = await startTemporal(config, logger, {
      ephemeral: args.db === 'memory',
      dynamicConfig: args.partitions ? PARTITIONS(args.partitions) : undefined,
    });
    stops.push(() => server.stop());
    const port = server.address.split(':').pop() ?? '';
    const serverPid = external ? undefined : findTemporalServerPid(port);
    const store: BenchStack['store'] = external
      ? { kind: 'external', pragmas: [] }
      : args.db === 'memory'
        ? { kind: 'memory', pragmas: [] }
        : { kind: 'file', pragmas: config.devServer.sqlitePragmas };

    const client = await connectClient(config, { address: server.address, namespace: server.namespace });
    stops.push(() => client.connection.close());
    const invoices = createInvoiceClient({ client, timing: config.invoiceTiming });
    const world = await spawnReady<WorldMessage>(
      'world.ts',
      {
        ...env,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: server.namespace,
        BENCH_TIME_SCALE: String(args.timeScale),
        BENCH_FAULT_PROVIDER: args.provider,
        BENCH_FAULT_RATE: String(args.faultRate),
      },
      cpuProfileArgs(env),
    );
    stops.push(() => stopChild(world.child));

    const { child, ready } = await spawnWorker({
      ...env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
    });
    stops.push(() => stopChild(child));

    return {
      config,
      server,
      serverPid,
      store,
      dynamicConfig: external || !args.partitions ? {} : PARTITIONS(args.partitions),
      temporalCliVersion: cliVersion(server.cliPath),
      world: world.ready,
      client,
      invoices,
      worker: { pid: ready.pid, ready, memory: () => askMemory(child) },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
