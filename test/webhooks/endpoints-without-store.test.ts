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

  it('refuses an endpoint at a private address literal where private destinations are refused', async () => {
    const refusing = testConfig({ WEBHOOK_PRIVATE_DESTINATIONS: 'refuse' });
    const app = buildGateway({
      invoices: createInvoiceClient({ client, timing: refusing.invoiceTiming }),
      providers: {} as ProviderRegistry,
      config: refusing,
      logger: createLogger({ level: 'silent' }),
      access: testAccess(),
      temporalHealth: () => Promise.resolve(true),
    });
    try {
      const headers = { authorization: `Bearer ${TEST_KEYS.service}` };
      for (const url of [
        'http://127.0.0.1:8080/',
        'http://169.254.169.254/latest',
        'https://[::1]/',
        'http://10.0.0.7/',
      ]) {
        const answer = await app.inject({
          method: 'POST',
          url: '/v1/webhook-endpoints',
          headers,
          payload: { url, eventTypes: ['*'] },
        });
        expect([url, answer.statusCode, answer.json<{ errors: { path: string }[] }>().errors[0]?.path]).toEqual([
          url,
          400,
          'url',
        ]);
      }
      // A public address passes the check (and then finds no store here).
      const publicUrl = await app.inject({
        method: 'POST',
        url: '/v1/webhook-endpoints',
        headers,
        payload: { url: 'https://93.184.215.14/hooks', eventTypes: ['*'] },
      });
      expect(publicUrl.statusCode).toBe(503);
    } finally {
      await app.close();
    }
  });
});
