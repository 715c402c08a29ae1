import { createActivities } from './activities';
import { ConfigError, loadConfig } from './config';
import { createLogger, installTemporalRuntimeLogger } from './logger';
import { createProviders } from './providers';
import { connectClient, connectWorker } from './temporal/connection';
import { openStore } from './store/database';
import { createWorker, holdRepeatedStopSignals } from './temporal/worker';
import { ensureReconciliationSchedule } from './temporal/reconciliation-schedule';
import { startWorkerHealth } from './temporal/worker-health';
import { tracingFromConfig } from './telemetry/tracing';

/** A worker alone, for a cluster run elsewhere (docker-compose, Temporal Cloud): scale it out by running more. */
async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  installTemporalRuntimeLogger(logger, { metricsBind: config.telemetry.temporalMetricsBind });
  const address = config.temporal.address ?? `127.0.0.1:${config.devServer.port}`;
  const namespace = config.temporal.namespace;
  const tracing = tracingFromConfig(config, 'payment-orchestrator-worker');
  if (!config.store.databaseUrl) {
    throw new ConfigError([
      'STORE_DATABASE_URL: required by a worker of its own (the event log and webhook deliveries)',
    ]);
  }
  const store = await openStore(config.store.databaseUrl, logger.child({ component: 'store' }));
  const temporal = await connectClient(config, { address, namespace });
  const connection = await connectWorker(config, { address, namespace });
  const activities = createActivities({ providers: createProviders(config, logger), logger, config, store, temporal });
  const workers = await createWorker({ config, connection, namespace, activities, logger, tracing });
  holdRepeatedStopSignals(logger);
  // A schedule Temporal refuses now must not keep the invoices from running; the next worker start tries again.
  await ensureReconciliationSchedule(temporal, config, logger).catch((error: unknown) =>
    logger.error({ err: error }, 'reconciliation schedule not set up'),
  );
  const health =
    config.worker.healthPort === undefined
      ? undefined
      : await startWorkerHealth(() => workers.states(), { port: config.worker.healthPort });
  // The SDK shuts the workers down on SIGINT and SIGTERM (in-flight activities get WORKER_SHUTDOWN_GRACE_MS);
  // run() resolves once they have drained, and /healthz answers 503 meanwhile.
  await workers.run();
  await health?.close();
  await connection.close();
  await temporal.connection.close();
  await store.close();
  await tracing?.shutdown();
}

run().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
});
