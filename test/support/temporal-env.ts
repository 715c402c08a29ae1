import type { Client } from '@temporalio/client';
import type { Store } from '../../src/store/database';
import { createActivities } from '../../src/activities';
import { createInvoiceClient, type InvoiceClient } from '../../src/client';
import { loadConfig, type Config } from '../../src/config';
import { createLogger, installTemporalRuntimeLogger, type Logger } from '../../src/logger';
import type { ProviderRegistry } from '../../src/providers/types';
import { connectClient, connectWorker } from '../../src/temporal/connection';
import type { Tracing } from '../../src/telemetry/tracing';
import { createWorker, type InvoiceWorkers } from '../../src/temporal/worker';
import type { InvoiceTiming } from '../../src/workflows/definitions';
import { TEST_NAMESPACES } from '../setup/global-setup';
import { TEST_POLICY } from './access';

export const FAST_TIMING: InvoiceTiming = {
  pollAfterSeconds: 2,
  pollInitialIntervalSeconds: 1,
  pollMaxIntervalSeconds: 2,
};

export interface TestEnv {
  config: Config;
  namespace: string;
  logger: Logger;
  temporal: Client;
  invoices: InvoiceClient;
  /** Starts the workers (again, after `stopWorkers`). */
  startWorkers(): Promise<void>;
  stopWorkers(): Promise<void>;
  stop(): Promise<void>;
}

/** The jest worker's own namespace on the run's one dev server (see the global setup). */
export function testNamespace(): string {
  const index = (Number(process.env.JEST_WORKER_ID ?? '1') - 1) % TEST_NAMESPACES.length;
  return TEST_NAMESPACES[index] ?? 'test-1';
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEST_TEMPORAL_ADDRESS is unset: run the tests through jest (its global setup).');
  return loadConfig({
    NODE_ENV: 'test',
    // Activity failures the tests provoke on purpose would otherwise fill the output.
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: testNamespace(),
    ...overrides,
  });
}

/** A real worker and client against the run's dev server, with the given providers behind the activities. */
export async function startTestEnv(options: {
  providers: ProviderRegistry;
  timing?: InvoiceTiming;
  env?: Record<string, string>;
  /** False when the test runs its workers elsewhere (another process). */
  workers?: boolean;
  /** Scopes `invoices` to a tenant, as the gateway's principals of that tenant see them. */
  tenant?: string;
  /** The test's tracing: the client and the workers carry the trace, as the gateway's and the worker's processes do. */
  tracing?: Tracing;
  /** The store the workers record events in and deliver webhooks from (the test stack's own). */
  store?: Store;
}): Promise<TestEnv> {
  const config = testConfig(options.env);
  const namespace = config.temporal.namespace;
  const address = config.temporal.address ?? '';
  const logger = createLogger({ level: config.logLevel });
  installTemporalRuntimeLogger(logger);
  const temporal = await connectClient(config, { address, namespace }, { tracing: options.tracing !== undefined });
  await terminateRunning(temporal);
  const connection = await connectWorker(config, { address, namespace });
  const activities = createActivities({
    providers: options.providers,
    logger,
    config,
    temporal,
    ...(options.store ? { store: options.store } : {}),
  });
  let workers: InvoiceWorkers | undefined;
  let running: Promise<void> | undefined;

  const env: TestEnv = {
    config,
    namespace,
    logger,
    temporal,
    invoices: createInvoiceClient({
      client: temporal,
      timing: options.timing ?? FAST_TIMING,
      ...(options.tenant ? { tenant: options.tenant, policyFor: () => TEST_POLICY } : {}),
    }),
    async startWorkers() {
      workers = await createWorker({ config, connection, namespace, activities, logger, tracing: options.tracing });
      running = workers.run();
    },
    async stopWorkers() {
      workers?.shutdown();
      await running;
      workers = undefined;
      running = undefined;
    },
    async stop() {
      await terminateRunning(temporal);
      await env.stopWorkers();
      await connection.close();
      await temporal.connection.close();
    },
  };
  if (options.workers !== false) await env.startWorkers();
  return env;
}

/** A namespace belongs to one jest worker at a time: what an earlier test file left running is ended. */
async function terminateRunning(temporal: Client): Promise<void> {
  for await (const execution of temporal.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
    await temporal.workflow
      .getHandle(execution.workflowId, execution.runId)
      .terminate('test cleanup')
      .catch(() => undefined);
  }
}
