// The benchmark's outside world, in a process of its own: the provider sandboxes and the HTTP gateway that takes their
// webhooks. Kept out of the driver so that the driver's clock (Update round trips, start → COMPLETED) is read by a
// process that does nothing else, as a calling service's would be, and so that their CPU is reported on its own row.
import { z } from 'zod';
import { loadConfig } from '../src/config';
import { PROVIDER_NAMES } from '../src/domain/constants';
import { startGateway } from '../src/gateway/server';
import { createLogger } from '../src/logger';
import { createProviders } from '../src/providers';
import { startSandboxes } from '../src/providers/sandbox/server';
import { connectClient } from '../src/temporal/connection';
import type { WorldMessage } from './protocol';

const WorldEnv = z.object({
  BENCH_TIME_SCALE: z.coerce.number().positive(),
  BENCH_FAULT_PROVIDER: z.enum(PROVIDER_NAMES).optional(),
  BENCH_FAULT_RATE: z.coerce.number().min(0).max(1).default(0),
});

async function run(): Promise<void> {
  const env = WorldEnv.parse(process.env);
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const address = config.temporal.address;
  if (!address) throw new Error('the benchmark passes TEMPORAL_ADDRESS to its world');
  const sandboxes = await startSandboxes({
    port: config.sandboxPort,
    logger: logger.child({ component: 'sandbox' }),
    webhookBaseUrl: `${config.gateway.url}/webhooks`,
    timeScale: env.BENCH_TIME_SCALE,
    faults:
      env.BENCH_FAULT_PROVIDER && env.BENCH_FAULT_RATE > 0
        ? { [env.BENCH_FAULT_PROVIDER]: { errorRate: env.BENCH_FAULT_RATE } }
        : {},
  });
  const client = await connectClient(config, { address, namespace: config.temporal.namespace });
  const gateway = await startGateway({ config, logger, client, providers: createProviders(config, logger) });

  const stop = async () => {
    await gateway.close();
    await client.connection.close();
    await sandboxes.close();
    process.exit(0);
  };
  process.on('message', () => void stop());
  // No world outlives a benchmark that crashed.
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), 5_000).unref();
    void stop();
  });
  const ready: WorldMessage = { type: 'ready', pid: process.pid, sandboxUrl: sandboxes.url, gatewayUrl: gateway.url };
  process.send?.(ready);
}

run().catch((error: unknown) => {
  process.stderr.write(`bench world: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
