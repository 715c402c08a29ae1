import { ConfigError, loadConfig } from '../../config';
import { createLogger } from '../../logger';
import { refuseSandboxesInProduction } from './kit';
import { startSandboxes } from './server';

/** The provider sandboxes alone, as their own service (docker-compose); `npm start` runs them in-process. */
async function run(): Promise<void> {
  const config = loadConfig();
  refuseSandboxesInProduction(config);
  const logger = createLogger({ level: config.logLevel });
  const server = await startSandboxes({
    port: config.sandboxPort,
    host: '0.0.0.0',
    logger,
    webhookBaseUrl: `${config.gateway.url}/webhooks`,
    timeScale: 0.01,
  });
  logger.info({ url: server.url }, 'provider sandboxes listening');
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

run().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
});
