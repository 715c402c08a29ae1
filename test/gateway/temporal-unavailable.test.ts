import { createInvoiceClient } from '../../src/client';
import { loadConfig } from '../../src/config';
import { buildGateway } from '../../src/gateway/app';
import { accessFromConfig, createDevAccess, GatewayConfigError } from '../../src/gateway/auth';
import { temporalHealthCheck } from '../../src/gateway/health';
import type { Problem } from '../../src/gateway/problem';
import { createLogger } from '../../src/logger';
import type { ProviderRegistry } from '../../src/providers/types';
import { connectClient } from '../../src/temporal/connection';
import { startTemporal, type TemporalServer } from '../../src/temporal/dev-server';
import { fakeRegistry } from '../support/fake-provider';
import { FAST_TIMING } from '../support/temporal-env';
import { testAccess } from '../support/access';
import { API_KEY, json } from './gateway-env';
import { sign, testRoute } from './webhook-doubles';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';

describe('gateway while Temporal is down', () => {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    TEMPORAL_NAMESPACE: 'unavailable-test',
    ...(process.env.TEST_TEMPORAL_CLI ? { TEMPORAL_CLI: process.env.TEST_TEMPORAL_CLI } : {}),
  });
  const logger = createLogger({ level: config.logLevel });
  const { registry } = fakeRegistry();
  let server: TemporalServer;
  let client: Client;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    // A server of its own: stopping the run's shared one would break every other test file.
    server = await startTemporal(config, logger, { ephemeral: true });
    client = await connectClient(config, { address: server.address, namespace: server.namespace });
    app = buildGateway({
      invoices: createInvoiceClient({ client, timing: FAST_TIMING }),
      providers: registry,
      config,
      logger,
      access: testAccess(),
      temporalHealth: temporalHealthCheck(client),
      webhooks: { alfred: [testRoute('', 'signal')] },
      temporalDeadlineMs: 1500,
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await client?.connection.close();
    await server?.stop();
  });

  const authorized = { authorization: `Bearer ${API_KEY}` };

  it('is ready while Temporal answers, then answers 503 with Retry-After once it is stopped', async () => {
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`${url}/v1/invoices/inv_nope`, { headers: authorized })).status).toBe(404);

    await server.stop();

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await json(ready)).toMatchObject({ temporal: false });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    const read = await fetch(`${url}/v1/invoices/inv_nope`, { headers: authorized });
    expect(read.status).toBe(503);
    expect(read.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await json<Problem>(read)).toMatchObject({ type: 'TemporalUnavailable', status: 503 });

    const raw = JSON.stringify({ eventId: 'e1', status: 'settled', invoiceId: 'inv_nope' });
    const webhook = await fetch(`${url}/webhooks/alfred`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-signature': sign(raw) },
      body: raw,
    });
    expect(webhook.status).toBe(503);
    expect(webhook.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('gateway API keys', () => {
  const config = loadConfig({ NODE_ENV: 'test', TEMPORAL_ADDRESS: '127.0.0.1:1' });

  it('refuses to build without a key, naming the variable', () => {
    const client = { handle: () => ({ client: { connection: {} } }), options: {} } as unknown as ReturnType<
      typeof createInvoiceClient
    >;
    expect(() =>
      buildGateway({
        invoices: client,
        providers: {} as ProviderRegistry,
        config,
        logger: createLogger({ level: 'silent' }),
        temporalHealth: async () => true,
      }),
    ).toThrow(GatewayConfigError);
    expect(() => accessFromConfig(config)).toThrow(/GATEWAY_KEYS_FILE/);
  });

  it('knows a principal only by one of its keys, presented as a bearer token', () => {
    const dev = createDevAccess();
    expect(dev.keys.service).not.toBe(createDevAccess().keys.service);
    expect(dev.registry.authenticate(`Bearer ${dev.keys.approver}`)).toMatchObject({
      id: 'dev-approver',
      tenant: 'dev',
    });
    expect(dev.registry.authenticate(`bearer ${dev.keys.service}`)?.id).toBe('dev-service');
    expect(dev.registry.authenticate(`Bearer ${dev.keys.service}x`)).toBeUndefined();
    expect(dev.registry.authenticate(dev.keys.service)).toBeUndefined();
    expect(dev.registry.authenticate(`Basic ${dev.keys.service}`)).toBeUndefined();
    expect(dev.registry.authenticate(undefined)).toBeUndefined();
  });
});
