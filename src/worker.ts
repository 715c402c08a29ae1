import { createActivities } from './activities';
import { ConfigError, loadConfig } from './config';
import { createLogger, installTemporalRuntimeLogger } from './logger';
import { createProviders } from './providers';
import { connectWorker } from './temporal/connection';
import { createWorker } from './temporal/worker';
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
  const connection = await connectWorker(config, { address, namespace });
  const activities = createActivities({ providers: createProviders(config, logger), logger });
  const workers = await createWorker({ config, connection, namespace, activities, logger, tracing });
  const health =
    config.worker.healthPort === undefined
      ? undefined
      : await startWorkerHealth(() => workers.states(), { port: config.worker.healthPort });
  // The SDK shuts the workers down on SIGINT and SIGTERM (in-flight activities get WORKER_SHUTDOWN_GRACE_MS);
  // run() resolves once they have drained, and /healthz answers 503 meanwhile.
  await workers.run();
  await health?.close();
  await connection.close();
  await tracing?.shutdown();
}

run().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
});
