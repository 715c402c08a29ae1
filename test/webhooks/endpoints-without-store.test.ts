import type { Client } from '@temporalio/client';
import { createInvoiceClient } from '../../src/client';
import { buildGateway } from '../../src/gateway/app';
import { createLogger } from '../../src/logger';
import type { ProviderRegistry } from '../../src/providers/types';
import { connectClient } from '../../src/temporal/connection';
import { TEST_KEYS, testAccess } from '../support/access';
import { testConfig } from '../support/temporal-env';

describe('webhook endpoints on a gateway without a store', () => {
  const config = testConfig();
  let client: Client;

  beforeAll(async () => {
    client = await connectClient(config, {
      address: config.temporal.address ?? '',
      namespace: config.temporal.namespace,
    });
  });
  afterAll(async () => {
    await client.connection.close();
  });

  it('answers 503 StoreUnavailable with Retry-After, after authentication and the role check', async () => {
    const app = buildGateway({
      invoices: createInvoiceClient({ client, timing: config.invoiceTiming }),
      providers: {} as ProviderRegistry,
      config,
      logger: createLogger({ level: 'silent' }),
      access: testAccess(),
      temporalHealth: () => Promise.resolve(true),
    });
    try {
      const asService = { authorization: `Bearer ${TEST_KEYS.service}` };
      const listed = await app.inject({ method: 'GET', url: '/v1/webhook-endpoints', headers: asService });
      expect(listed.statusCode).toBe(503);
      expect(listed.headers['retry-after']).toBeDefined();
      expect(listed.json()).toMatchObject({ type: 'StoreUnavailable' });
      const created = await app.inject({
        method: 'POST',
        url: '/v1/webhook-endpoints',
        headers: asService,
        payload: { url: 'https://hooks.example/', eventTypes: ['*'] },
      });
      expect(created.json()).toMatchObject({ status: 503, type: 'StoreUnavailable' });
      const reader = await app.inject({
        method: 'GET',
        url: '/v1/webhook-endpoints',
        headers: { authorization: `Bearer ${TEST_KEYS.reader}` },
      });
      expect(reader.statusCode).toBe(403);
      expect((await app.inject({ method: 'GET', url: '/v1/webhook-endpoints' })).statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});
