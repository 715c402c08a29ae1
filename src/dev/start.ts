import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logger';
import { TemporalUnavailableError } from '../temporal/dev-server';
import { startStack } from './stack';

/** `npm start`: the whole stack on this machine, until Ctrl-C. */
async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const stack = await startStack(config, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  const lines = [
    'payment-orchestrator is running',
    `  Temporal frontend  ${stack.server.address} (namespace ${stack.server.namespace})`,
    stack.server.uiUrl
      ? `  Temporal UI        ${stack.server.uiUrl}/namespaces/${stack.server.namespace}/workflows`
      : undefined,
    stack.sandboxes ? `  Provider sandboxes ${stack.sandboxes.url}/{alfred,payone,xprizo,bitfinex}` : undefined,
    'Press Ctrl-C to stop.',
  ].filter(Boolean);
  process.stdout.write(`${lines.join('\n')}\n`);
}

run().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof TemporalUnavailableError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(
      `npm start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
  process.exit(1);
});
