import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createInvoiceClient } from '../../src/client';
import { buildGateway } from '../../src/gateway/app';
import { createLogger } from '../../src/logger';
import type { ProviderRegistry } from '../../src/providers/types';
import { connectClient } from '../../src/temporal/connection';
import { testAccess } from '../support/access';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import type { OpenApiDocument } from '../support/openapi-structure';
import { testConfig } from '../support/temporal-env';

/** /docs in a real browser: the page's scripts run, load the document and show one block per operation. */
describe('the /docs page in Chromium', () => {
  const config = testConfig();
  let client: Client | undefined;
  let app: FastifyInstance | undefined;
  let browser: LaunchedBrowser | undefined;

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await client?.connection.close();
  });

  it('renders every operation of the OpenAPI document, without a script error', async () => {
    client = await connectClient(config, {
      address: config.temporal.address ?? '',
      namespace: config.temporal.namespace,
    });
    app = buildGateway({
      invoices: createInvoiceClient({ client, timing: config.invoiceTiming }),
      providers: {} as ProviderRegistry,
      config,
      logger: createLogger({ level: 'silent' }),
      access: testAccess(),
      temporalHealth: () => Promise.resolve(true),
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as OpenApiDocument;
    const operations = Object.values(document.paths).flatMap((item) => Object.keys(item)).length;

    browser = await launchChromium({ width: 1400, height: 1000 });
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${url}/docs`, { waitUntil: 'networkidle' });
    await page.locator('.opblock').first().waitFor();
    expect(await page.locator('.opblock').count()).toBe(operations);
    expect(await page.locator('.opblock-summary-path', { hasText: '/v1/invoices/{invoiceId}/approve' }).count()).toBe(
      1,
    );
    await expect(page.locator('.info .title').textContent()).resolves.toContain('payment-orchestrator gateway');
    expect(errors).toEqual([]);
  });
});
