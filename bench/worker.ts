// The benchmark's worker, in its own process so that its RSS and CPU are measured apart from the driver, the sandboxes
// and the server. It runs the real invoice workers (real provider activities against the sandboxes, the store and a
// Temporal client, as src/worker.ts has them) and the baseline worker on its own task queue, both with the tuning from
// config. `--workers 2` starts two of these processes.
import path from 'node:path';
import v8 from 'node:v8';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { loadConfig } from '../src/config';
import { createLogger, installTemporalRuntimeLogger } from '../src/logger';
import { createProviders } from '../src/providers';
import { openStore } from '../src/store/database';
import { connectClient, connectWorker } from '../src/temporal/connection';
import { createWorker, workerTuning, workflowBundle } from '../src/temporal/worker';
import { BASELINE_TASK_QUEUE, type BaselineActivities } from './baseline-workflow';
import type { BundleReport, MemoryReport, ParentMessage, WorkerMessage } from './protocol';

const HEAVY_MODULES = ['zod', 'pino', 'fastify'] as const;

function bundleReport(code: string): BundleReport {
  return {
    bytes: Buffer.byteLength(code),
    heavyModules: HEAVY_MODULES.filter((name) => code.includes(`node_modules/${name}/`)),
  };
}

function memoryReport(): MemoryReport {
  const usage = process.memoryUsage();
  return {
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external,
    arrayBuffersBytes: usage.arrayBuffers,
    contextsHeld: v8.getHeapStatistics().number_of_native_contexts,
  };
}

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  installTemporalRuntimeLogger(logger);
  const address = config.temporal.address;
  const storeUrl = config.store.databaseUrl;
  if (!address || !storeUrl) throw new Error('the benchmark passes TEMPORAL_ADDRESS and STORE_DATABASE_URL');
  const namespace = config.temporal.namespace;
  const connection = await connectWorker(config, { address, namespace });
  const temporal = await connectClient(config, { address, namespace });
  const store = await openStore(storeUrl, logger.child({ component: 'store' }));

  const activities = createActivities({ providers: createProviders(config, logger), logger, config, store, temporal });
  // The gateway's URL, as npm start passes it: the worker registers Xprizo's webhook URLs there.
  const invoiceWorkers = await createWorker({
    config,
    connection,
    namespace,
    activities,
    logger,
    gatewayUrl: config.gateway.url,
  });

  const baselineBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve(path.join(__dirname, 'baseline-workflow')),
    logger: new DefaultLogger('WARN'),
  });
  const noop: BaselineActivities = { noop: () => Promise.resolve({}) };
  const baseline = await Worker.create({
    connection,
    namespace,
    taskQueue: BASELINE_TASK_QUEUE,
    workflowBundle: { code: baselineBundle.code },
    activities: noop,
    ...workerTuning(config),
  });

  const running = Promise.all([invoiceWorkers.run(), baseline.run()]);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'memory') {
      send({ type: 'memory', memory: memoryReport() });
      return;
    }
    invoiceWorkers.shutdown();
    if (baseline.getState() === 'RUNNING') baseline.shutdown();
  });
  // The parent's end is ours too: no worker outlives a benchmark that crashed.
  process.on('disconnect', () => {
    invoiceWorkers.shutdown();
    if (baseline.getState() === 'RUNNING') baseline.shutdown();
    // The server usually went with the parent, and a shutdown cannot drain pollers against a server that is gone.
    setTimeout(() => process.exit(1), 10_000).unref();
  });

  send({
    type: 'ready',
    pid: process.pid,
    invoiceBundle: bundleReport((await workflowBundle()).code),
    baselineBundle: bundleReport(baselineBundle.code),
    effectiveTuning: {
      maxCachedWorkflows: baseline.options.maxCachedWorkflows,
      workflowPollers: baseline.options.workflowTaskPollerBehavior,
      activityPollers: baseline.options.activityTaskPollerBehavior,
    },
  });
  await running;
  await store.close();
  await temporal.connection.close();
  await connection.close();
}

run().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
