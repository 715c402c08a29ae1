// The HTTP gateway in a process of its own, as production runs it: it takes the sandboxes' signed webhooks and turns
// them into signals. Apart from the sandboxes so that its CPU per invoice is ours alone.
import { loadConfig } from '../src/config';
import { startGateway } from '../src/gateway/server';
import { createLogger } from '../src/logger';
import { createProviders } from '../src/providers';
import { openStore } from '../src/store/database';
import { connectClient } from '../src/temporal/connection';
import type { ServiceMessage } from './protocol';

async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const address = config.temporal.address;
  const storeUrl = config.store.databaseUrl;
  if (!address || !storeUrl) throw new Error('the benchmark passes TEMPORAL_ADDRESS and STORE_DATABASE_URL');
  const client = await connectClient(config, { address, namespace: config.temporal.namespace });
  // With a store the gateway records each invoice's events, as in production: that cost belongs in the figures.
  const store = await openStore(storeUrl, logger.child({ component: 'store' }));
  const gateway = await startGateway({ config, logger, client, providers: createProviders(config, logger), store });

  const stop = async () => {
    await gateway.close();
    await store.close();
    await client.connection.close();
    process.exit(0);
  };
  process.on('message', () => void stop());
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), 5_000).unref();
    void stop();
  });
  const ready: ServiceMessage = { type: 'ready', pid: process.pid, url: gateway.url };
  process.send?.(ready);
}

run().catch((error: unknown) => {
  process.stderr.write(`bench gateway: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
