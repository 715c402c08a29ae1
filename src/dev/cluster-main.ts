import path from 'node:path';
import { loadConfig, PROJECT_ROOT, type Config } from '../config';
import { createLogger, type Logger } from '../logger';
import { TASK_QUEUES } from '../workflows/definitions';
import { ClusterStartError, startCluster, type Cluster } from './cluster';
import { writeClusterState } from './cluster-state';
import { exitFailedStart, say } from './console';
import { DEV_DEFAULTS } from './defaults';
import { startStack, type Stack } from './stack';

/** Two, so a test (or a developer) can kill one and watch the other carry every invoice on. */
const INVOICE_WORKERS = 2;
const WORKER_READY_TIMEOUT_MS = 180_000;

/** The worker entry (src/worker.ts) in its own process, as a deployment runs it, joined to this cluster. */
function startInvoiceWorkers(config: Config, cluster: Cluster, stack: Stack): void {
  for (let index = 1; index <= INVOICE_WORKERS; index++) {
    cluster.supervisor.start({
      name: `invoice-worker-${index}`,
      command: process.execPath,
      args: ['--import', 'tsx', path.join(PROJECT_ROOT, 'src', 'worker.ts')],
      cwd: PROJECT_ROOT,
      env: {
        ...DEV_DEFAULTS,
        ...process.env,
        TEMPORAL_ADDRESS: cluster.address,
        TEMPORAL_NAMESPACE: cluster.namespace,
        STORE_DATABASE_URL: cluster.storeUrl,
        // The sandboxes post webhooks to the local gateway; the worker registers Xprizo's URLs there.
        GATEWAY_PUBLIC_URL: stack.gateway.url,
      },
      logFile: path.join(cluster.logDir, `invoice-worker-${index}.log`),
      restart: true,
    });
  }
}

/** Ready means each worker process polls the invoices queue: its default identity begins with its pid. */
async function waitForWorkers(cluster: Cluster, stack: Stack): Promise<void> {
  const deadline = Date.now() + WORKER_READY_TIMEOUT_MS;
  const pids = cluster.supervisor
    .list()
    .filter((child) => child.spec.name.startsWith('invoice-worker-'))
    .map((child) => child.pid());
  while (Date.now() < deadline) {
    const response = await stack.temporal.workflowService.describeTaskQueue({
      namespace: cluster.namespace,
      taskQueue: { name: TASK_QUEUES.invoices },
    });
    const polling = new Set((response.pollers ?? []).map((poller) => (poller.identity ?? '').split('@')[0]));
    if (pids.every((pid) => polling.has(String(pid)))) return;
    const dead = cluster.supervisor.list().find((child) => !child.running());
    if (dead) throw new ClusterStartError(`${dead.spec.name} exited while starting; see ${cluster.logDir}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new ClusterStartError(`the invoice workers did not poll within ${WORKER_READY_TIMEOUT_MS / 1000} s`);
}

function writeState(cluster: Cluster, stack: Stack): void {
  writeClusterState(cluster.dataDir, {
    address: cluster.address,
    namespace: cluster.namespace,
    cliPath: cluster.cliPath,
    gatewayUrl: stack.gateway.url,
    sandboxUrl: stack.sandboxes?.url,
    devKeys: stack.gateway.devAccess,
    logDir: cluster.logDir,
    processes: cluster.supervisor
      .list()
      .map((child) => ({ name: child.spec.name, pid: child.pid(), restarts: child.restarts() })),
  });
}

async function start(config: Config, logger: Logger): Promise<{ cluster: Cluster; stack: Stack }> {
  const cluster = await startCluster(config, logger);
  let stack: Stack | undefined;
  try {
    stack = await startStack(config, logger, { server: cluster, workers: false, storeUrl: cluster.storeUrl });
    startInvoiceWorkers(config, cluster, stack);
    await waitForWorkers(cluster, stack);
    return { cluster, stack };
  } catch (error) {
    await stack?.stop();
    await cluster.stop();
    throw error;
  }
}

/** `npm run cluster`: Temporal as production runs it (separate services on PostgreSQL), on this machine. */
async function run(): Promise<void> {
  const config = loadConfig({ ...DEV_DEFAULTS, ...process.env });
  const logger = createLogger({ level: config.logLevel });
  const started = Date.now();
  say('Starting the cluster (the first run builds the Temporal server with Go: several minutes)...');
  const { cluster, stack } = await start(config, logger);

  let stopping = false;
  const shutdown = (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    say(`Stopping (${reason})...`);
    // The gateway first so nothing new comes in, then the workers, Temporal's services and PostgreSQL, newest first.
    stack
      .stop()
      .then(() => cluster.stop())
      .then(
        () => process.exit(code),
        (error: unknown) => {
          logger.error({ err: error }, 'stop failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  cluster.supervisor.onUnexpectedExit = (name, exitCode, signal) => {
    logger.error({ process: name, code: exitCode, signal }, 'a process the cluster cannot run without exited');
    shutdown(`${name} exited`, 1);
  };
  cluster.supervisor.onRestarted = () => writeState(cluster, stack);
  writeState(cluster, stack);

  say(`payment-orchestrator cluster is running (started in ${Math.round((Date.now() - started) / 1000)} s)`);
  const where = cluster.database.local
    ? `local, 127.0.0.1:${cluster.database.port}, data in ${path.join(cluster.dataDir, 'postgres')}`
    : `${cluster.database.host}:${cluster.database.port} (DATABASE_URL)`;
  say(`  PostgreSQL         ${where}`);
  say(`  Temporal frontend  ${cluster.address} (namespace ${cluster.namespace})`);
  for (const child of cluster.supervisor.list()) say(`    ${child.spec.name.padEnd(18)} pid ${child.pid()}`);
  say(`  Gateway            ${stack.gateway.url}`);
  const keys = stack.gateway.devAccess;
  if (keys) say(`  Dev API keys       service ${keys.service}  approver ${keys.approver}  operator ${keys.operator}`);
  if (stack.sandboxes) say(`  Provider sandboxes ${stack.sandboxes.url}/{alfred,payone,xprizo,bitfinex}`);
  say(`  Logs               ${cluster.logDir}`);
  say('Press Ctrl-C to stop all of it.');
}

run().catch((error: unknown) => exitFailedStart('npm run cluster', error));
