import type { PublicApi } from '../../src/dev/samples';
import { startGateway, type RunningGateway } from '../../src/gateway/server';
import { createLogger } from '../../src/logger';
import { createProviders } from '../../src/providers';
import type { FaultSettings } from '../../src/providers/sandbox/kit';
import { startSandboxes, type SandboxServer } from '../../src/providers/sandbox/server';
import type { ProviderRegistry } from '../../src/providers/types';
import { freePort } from '../../src/temporal/dev-server';
import type { ProviderName } from '../../src/domain/constants';
import type { Tracing } from '../../src/telemetry/tracing';
import type { BitfinexSandbox } from '../../src/providers/bitfinex/sandbox';
import type { Store } from '../../src/store/database';
import { startTestStore } from './store';
import { TEST_KEYS, TEST_TENANT, testAccessEnv } from './access';
import { FAST_TIMING, startTestEnv, testConfig, type TestEnv } from './temporal-env';

export const TEST_API_KEY = TEST_KEYS.service;

/**
 * Bitfinex's 90 requests a minute on a tenth of the clock, at the sandbox and in the budget our queue's rate derives
 * from alike: the sandboxes run time-scaled, and a real minute per 63 requests would leave a test's Bitfinex invoices
 * queueing for minutes behind each other. A test may name its own (both sides follow its env).
 */
const TEST_BITFINEX_LIMIT = { BITFINEX_RATE_LIMIT_REQUESTS: '90', BITFINEX_RATE_LIMIT_WINDOW_SECONDS: '6' };

export interface TestStack {
  env: TestEnv;
  /** The stack's own store (test/support/store.ts); `childEnv` names it for worker processes. */
  store: Store;
  sandboxes: SandboxServer;
  gateway: RunningGateway;
  providers: ProviderRegistry;
  api: PublicApi;
  /** The configuration a worker process needs to join this stack. */
  childEnv: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The real thing on loopback: provider sandboxes, the real provider clients in a real worker, the gateway, all on the
 * run's Temporal dev server. Webhooks go sandbox → gateway → workflow.
 */
export async function startTestStack(
  options: {
    faults?: Partial<Record<ProviderName, Partial<FaultSettings>>>;
    env?: Record<string, string>;
    timeScale?: number;
    /** False when the test runs the invoice workers in their own processes (see worker-process.ts). */
    workers?: boolean;
    /** The test's tracing, carried by the gateway's client and the workers (see src/telemetry/tracing.ts). */
    tracing?: Tracing;
  } = {},
): Promise<TestStack> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'error' });
  const gatewayPort = await freePort();
  const sandboxes = await startSandboxes({
    port: 0,
    logger,
    webhookBaseUrl: `http://127.0.0.1:${gatewayPort}/webhooks`,
    timeScale: options.timeScale ?? 0.01,
    faults: options.faults,
  });
  const testStore = await startTestStore();
  const env: Record<string, string> = {
    STORE_DATABASE_URL: testStore.url,
    SANDBOX_PORT: new URL(sandboxes.url).port,
    GATEWAY_PORT: String(gatewayPort),
    ...testAccessEnv(),
    // Tests poll the gateway for hundreds of invoices at once; the rate limits have tests of their own.
    GATEWAY_RATE_LIMIT_PER_KEY: '1000000',
    GATEWAY_RATE_LIMIT_PER_ADDRESS: '1000000',
    // Invoices started through the gateway take their timing from config: seconds here, not production's minutes.
    INVOICE_POLL_AFTER_SECONDS: String(FAST_TIMING.pollAfterSeconds),
    INVOICE_POLL_INITIAL_INTERVAL_SECONDS: String(FAST_TIMING.pollInitialIntervalSeconds),
    INVOICE_POLL_MAX_INTERVAL_SECONDS: String(FAST_TIMING.pollMaxIntervalSeconds),
    ...TEST_BITFINEX_LIMIT,
    ...options.env,
  };
  sandboxes
    .get<BitfinexSandbox>('bitfinex')
    .sandbox.setRateLimit(
      Number(env.BITFINEX_RATE_LIMIT_REQUESTS),
      Number(env.BITFINEX_RATE_LIMIT_WINDOW_SECONDS) * 1000,
    );
  const config = testConfig(env);
  const providers = createProviders(config, logger);
  const testEnv = await startTestEnv({
    store: testStore.store,
    providers,
    env,
    timing: FAST_TIMING,
    workers: options.workers,
    tenant: TEST_TENANT,
    tracing: options.tracing,
  });
  const gateway = await startGateway({
    config: testEnv.config,
    logger,
    client: testEnv.temporal,
    providers,
    store: testStore.store,
  });
  return {
    env: testEnv,
    store: testStore.store,
    sandboxes,
    gateway,
    providers,
    api: {
      gatewayUrl: gateway.url,
      apiKey: TEST_KEYS.service,
      approverKey: TEST_KEYS.approver,
      tenant: TEST_TENANT,
      sandboxUrl: sandboxes.url,
    },
    childEnv: env,
    async stop() {
      await testEnv.stop();
      await gateway.close();
      await sandboxes.close();
      await testStore.close();
    },
  };
}
