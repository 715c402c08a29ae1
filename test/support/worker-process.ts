// A worker in its own process, so a test can kill it with SIGKILL as a crash would. Each completed provider step is
// appended to LEDGER_FILE, the record that survives the crash.
import { appendFileSync } from 'node:fs';
import { createActivities } from '../../src/activities';
import { createLogger, installTemporalRuntimeLogger } from '../../src/logger';
import { connectWorker } from '../../src/temporal/connection';
import { createWorker } from '../../src/temporal/worker';
import { fakeRegistry } from './fake-provider';
import { testConfig } from './temporal-env';

async function run(): Promise<void> {
  const ledger = process.env.LEDGER_FILE;
  if (!ledger) throw new Error('LEDGER_FILE is required');
  const config = testConfig();
  const logger = createLogger({ level: 'error' });
  installTemporalRuntimeLogger(logger);
  const { registry, fakes } = fakeRegistry();
  for (const fake of Object.values(fakes)) {
    fake.onCompleted = (invoiceId, step) => appendFileSync(ledger, `${invoiceId} ${step}\n`);
  }
  const address = config.temporal.address ?? '';
  const namespace = config.temporal.namespace;
  const connection = await connectWorker(config, { address, namespace });
  const workers = await createWorker({
    config,
    connection,
    namespace,
    activities: createActivities({ providers: registry, logger }),
    logger,
  });
  const running = workers.run();
  // The test holds our stdin: when it ends, however it ends, the pipe closes and this worker goes with it.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  process.stdout.write('worker ready\n');
  await running;
}

run().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
