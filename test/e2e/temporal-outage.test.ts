import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { loadConfig } from '../../src/config';
import { TEST_KEYS, TEST_TENANT, testAccessEnv } from '../support/access';
import { gatewayClient, sampleRequest, sandboxCustomer, waitUntil, type PublicApi } from '../../src/dev/samples';
import { startGateway, type RunningGateway } from '../../src/gateway/server';
import { createLogger, installTemporalRuntimeLogger } from '../../src/logger';
import { createProviders } from '../../src/providers';
import { startSandboxes, type SandboxServer } from '../../src/providers/sandbox/server';
import { connectClient, connectWorker } from '../../src/temporal/connection';
import { freePort, startTemporal, type TemporalServer } from '../../src/temporal/dev-server';
import { createWorker, type InvoiceWorkers } from '../../src/temporal/worker';
import { uniqueId } from '../support/requests';

/**
 * Temporal goes away while a provider's webhook is on its way: the gateway must refuse it (non-2xx) so the provider
 * retries, and the retry must land once Temporal is back. A server of its own, with a database file, so it can be
 * stopped and started again with the invoice still in it.
 */
describe('a webhook that arrives while Temporal is down', () => {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
  let server: TemporalServer;
  let sandboxes: SandboxServer;
  let gateway: RunningGateway;
  let client: Client;
  let connection: NativeConnection;
  let workers: InvoiceWorkers;
  let running: Promise<void>;
  let api: PublicApi;
  let config: ReturnType<typeof loadConfig>;

  beforeAll(async () => {
    const gatewayPort = await freePort();
    sandboxes = await startSandboxes({
      port: 0,
      logger,
      webhookBaseUrl: `http://127.0.0.1:${gatewayPort}/webhooks`,
      // alfred retries 11 times from 20 ms doubling: about 40 s in all, longer than Temporal is away.
      timeScale: 0.01,
    });
    config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      TEMPORAL_NAMESPACE: 'outage',
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_DB_FILE: path.join(mkdtempSync(path.join(os.tmpdir(), 'payorch-outage-')), 'temporal.db'),
      ...(process.env.TEST_TEMPORAL_CLI ? { TEMPORAL_CLI: process.env.TEST_TEMPORAL_CLI } : {}),
      SANDBOX_PORT: new URL(sandboxes.url).port,
      GATEWAY_PORT: String(gatewayPort),
      ...testAccessEnv(),
      // Nothing but the webhook may settle this invoice within the test: polling starts only after 10 minutes.
      INVOICE_POLL_AFTER_SECONDS: '600',
    });
    installTemporalRuntimeLogger(logger);
    server = await startTemporal(config, logger);
    const target = { address: server.address, namespace: server.namespace };
    const providers = createProviders(config, logger);
    connection = await connectWorker(config, target);
    workers = await createWorker({
      config,
      connection,
      namespace: server.namespace,
      activities: createActivities({ providers, logger }),
      logger,
    });
    running = workers.run();
    client = await connectClient(config, target);
    gateway = await startGateway({ config, logger, client, providers });
    api = {
      gatewayUrl: gateway.url,
      apiKey: TEST_KEYS.service,
      approverKey: TEST_KEYS.approver,
      tenant: TEST_TENANT,
      sandboxUrl: sandboxes.url,
    };
  });

  afterAll(async () => {
    await gateway?.close();
    workers?.shutdown();
    await running;
    await connection?.close();
    await client?.connection.close();
    await sandboxes?.close();
    await server?.stop();
  });

  it('is refused while Temporal is stopped, and the provider retry lands once it is back', async () => {
    const invoiceId = uniqueId('outage');
    await gatewayClient(api).create(
      sampleRequest({ invoiceId, provider: 'alfred', direction: 'pay_in', approvalRequired: false }),
    );
    const waiting = await waitUntil(api, invoiceId, (s) => s.status === 'AWAITING_SETTLEMENT');
    const alfredInvoiceId = waiting.providerRefs.alfredInvoiceId ?? '';

    await server.stop();
    // The customer pays; alfred's settlement webhook meets a gateway that cannot reach Temporal.
    await sandboxCustomer(api).payAlfred(alfredInvoiceId);
    const alfred = sandboxes.get('alfred').webhooks;
    const refused = () => alfred.log.filter((entry) => entry.url.endsWith('/webhooks/alfred') && entry.status >= 500);
    // Each refusal takes the gateway's Temporal deadline (10 s) to decide.
    const deadline = Date.now() + 30_000;
    while (refused().length < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(refused().length).toBeGreaterThanOrEqual(1);
    expect(refused().every((entry) => entry.status === 503)).toBe(true);

    server = await startTemporal(config, logger);
    const done = await waitUntil(api, invoiceId, (s) => s.status === 'COMPLETED', 60_000);
    expect(done.eventsApplied).toBeGreaterThanOrEqual(1);
    const accepted = alfred.log.filter((entry) => entry.url.endsWith('/webhooks/alfred') && entry.status === 200);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(accepted.at(-1)?.at ?? 0).toBeGreaterThan(refused().at(-1)?.at ?? Infinity);
  }, 120_000);
});
