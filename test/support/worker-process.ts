// A worker in its own process, so a test can kill it with SIGKILL as a crash would. Each completed provider step is
// appended to LEDGER_FILE, the record that survives the crash.
import { appendFileSync } from 'node:fs';
import { createActivities } from '../../src/activities';
import { createLogger, installTemporalRuntimeLogger } from '../../src/logger';
import { createProviders } from '../../src/providers';
import type { ProviderRegistry } from '../../src/providers/types';
import { connectClient, connectWorker } from '../../src/temporal/connection';
import { openStore } from '../../src/store/database';
import { createWorker, holdRepeatedStopSignals } from '../../src/temporal/worker';
import { startWorkerHealth } from '../../src/temporal/worker-health';
import { fakeRegistry } from './fake-provider';
import { testConfig } from './temporal-env';

async function run(): Promise<void> {
  const ledger = process.env.LEDGER_FILE ?? '';
  if (!ledger && process.env.WORKER_PROVIDERS !== 'sandboxes') throw new Error('LEDGER_FILE is required');
  // STACK_ENV: the configuration of the test stack this worker joins (its sandboxes' port, timing), as JSON.
  const config = testConfig(JSON.parse(process.env.STACK_ENV ?? '{}') as Record<string, string>);
  const logger = createLogger({ level: 'error' });
  installTemporalRuntimeLogger(logger, { metricsBind: config.telemetry.temporalMetricsBind });
  // WORKER_PROVIDERS=sandboxes: the real provider clients, pointed by the inherited config at a test's sandboxes.
  let registry: ProviderRegistry;
  if (process.env.WORKER_PROVIDERS === 'sandboxes') {
    registry = createProviders(config, logger);
  } else {
    const fake = fakeRegistry();
    registry = fake.registry;
    for (const provider of Object.values(fake.fakes)) {
      provider.onCompleted = (invoiceId, step) => appendFileSync(ledger, `${invoiceId} ${step}\n`);
    }
  }
  const address = config.temporal.address ?? '';
  const namespace = config.temporal.namespace;
  const connection = await connectWorker(config, { address, namespace });
  // Joining a test stack: its store (the event log, webhook deliveries) and a client to start deliveries with.
  const store = config.store.databaseUrl ? await openStore(config.store.databaseUrl, logger) : undefined;
  const temporal = store ? await connectClient(config, { address, namespace }) : undefined;
  const workers = await createWorker({
    config,
    connection,
    namespace,
    activities: createActivities({
      providers: registry,
      logger,
      config,
      ...(store && temporal ? { store, temporal } : {}),
    }),
    logger,
  });
  holdRepeatedStopSignals(logger);
  const running = workers.run();
  const health =
    config.worker.healthPort === undefined
      ? undefined
      : await startWorkerHealth(() => workers.states(), { port: config.worker.healthPort, host: '127.0.0.1' });
  // The test holds our stdin: when it ends, however it ends, the pipe closes and this worker goes with it.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  process.stdout.write('worker ready\n');
  await running;
  // SIGTERM drained the workers (the SDK's own handler); the open stdin would keep the process alive, so it exits.
  await health?.close();
  await connection.close();
  process.exit(0);
}

run().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
