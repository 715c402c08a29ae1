import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logger';
import { createProviders } from '../providers';
import { connectClient } from '../temporal/connection';
import { openStore } from '../store/database';
import { AccessConfigError } from '../access/principals';
import { accessFromConfig, GatewayConfigError } from './auth';
import { GatewayMetrics } from './metrics';
import { startGateway } from './server';
import { tracingFromConfig } from '../telemetry/tracing';

/** The gateway alone, for a Temporal cluster and workers run elsewhere (docker-compose, Temporal Cloud). */
async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  // Refuse before connecting: a missing key is the operator's mistake, not a Temporal outage.
  const access = accessFromConfig(config);
  const address = config.temporal.address ?? `127.0.0.1:${config.devServer.port}`;
  const tracing = tracingFromConfig(config, 'payment-orchestrator-gateway');
  const client = await connectClient(
    config,
    { address, namespace: config.temporal.namespace },
    { tracing: tracing !== undefined },
  );
  // Without a store the gateway still serves invoices; events, webhook endpoints and reports answer 503.
  const store = config.store.databaseUrl
    ? await openStore(config.store.databaseUrl, logger.child({ component: 'store' }))
    : undefined;
  const gateway = await startGateway({
    config,
    logger,
    client,
    store,
    providers: createProviders(config, logger),
    overrides: { access, metrics: new GatewayMetrics({ processMetrics: true }) },
  });
  logger.info({ url: gateway.url, temporal: address, namespace: config.temporal.namespace }, 'gateway listening');

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'gateway stopping');
    gateway
      .close()
      .then(() => client.connection.close())
      .then(() => store?.close())
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

run().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof GatewayConfigError || error instanceof AccessConfigError)
    process.stderr.write(`${error.message}\n`);
  else
    process.stderr.write(
      `gateway failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  process.exit(1);
});
