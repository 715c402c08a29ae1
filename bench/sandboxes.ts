// The provider sandboxes in a process of their own: they stand in for alfred's and the others' servers, so their CPU
// is the outside world's and must be read apart from the gateway's (our ingress) and the driver's clock.
import { z } from 'zod';
import { loadConfig } from '../src/config';
import { PROVIDER_NAMES } from '../src/domain/constants';
import { createLogger } from '../src/logger';
import { startSandboxes } from '../src/providers/sandbox/server';
import type { ServiceMessage } from './protocol';

const SandboxEnv = z.object({
  BENCH_TIME_SCALE: z.coerce.number().positive(),
  BENCH_FAULT_PROVIDER: z.enum(PROVIDER_NAMES).optional(),
  BENCH_FAULT_RATE: z.coerce.number().min(0).max(1).default(0),
});

async function run(): Promise<void> {
  const env = SandboxEnv.parse(process.env);
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel });
  const sandboxes = await startSandboxes({
    port: config.sandboxPort,
    logger: logger.child({ component: 'sandbox' }),
    // The gateway's port is chosen by the driver before either process starts, so the two need not meet first.
    webhookBaseUrl: `${config.gateway.url}/webhooks`,
    timeScale: env.BENCH_TIME_SCALE,
    faults:
      env.BENCH_FAULT_PROVIDER && env.BENCH_FAULT_RATE > 0
        ? { [env.BENCH_FAULT_PROVIDER]: { errorRate: env.BENCH_FAULT_RATE } }
        : {},
  });
  const stop = async () => {
    await sandboxes.close();
    process.exit(0);
  };
  process.on('message', () => void stop());
  // No sandbox outlives a benchmark that crashed.
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), 5_000).unref();
    void stop();
  });
  const ready: ServiceMessage = { type: 'ready', pid: process.pid, url: sandboxes.url };
  process.send?.(ready);
}

run().catch((error: unknown) => {
  process.stderr.write(`bench sandboxes: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
