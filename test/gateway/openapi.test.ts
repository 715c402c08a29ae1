import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createInvoiceClient } from '../../src/client';
import { buildGateway } from '../../src/gateway/app';
import type { Problem } from '../../src/gateway/problem';
import { createLogger } from '../../src/logger';
import type { ProviderRegistry } from '../../src/providers/types';
import { connectClient } from '../../src/temporal/connection';
import { TEST_KEYS, testAccess } from '../support/access';
import { openApiProblems, type OpenApiDocument } from '../support/openapi-structure';
import { invoiceRequest } from '../support/requests';
import { testConfig } from '../support/temporal-env';

/**
 * The document is what @fastify/swagger makes of the routes' zod schemas; these tests hold it to the app itself:
 * well-formed, one operation per route (a route added without schemas breaks them), and the validation its schemas
 * describe answered in the gateway's problem format.
 */
describe('the OpenAPI document and the docs page', () => {
  const config = testConfig();
  let client: Client;
  let app: FastifyInstance;
  let document: OpenApiDocument;

  const gateway = () =>
    buildGateway({
      invoices: createInvoiceClient({ client, timing: config.invoiceTiming }),
      // Webhook routes as the providers declare them; no request here reaches an adapter.
      providers: {} as ProviderRegistry,
      config,
      logger: createLogger({ level: 'silent' }),
      access: testAccess(),
      temporalHealth: () => Promise.resolve(true),
    });

  beforeAll(async () => {
    client = await connectClient(config, {
      address: config.temporal.address ?? '',
      namespace: config.temporal.namespace,
    });
    app = gateway();
    await app.ready();
    const response = await app.inject('/openapi.json');
    expect(response.statusCode).toBe(200);
    document = response.json<OpenApiDocument>();
  });

  afterAll(async () => {
    await app.close();
    await client.connection.close();
  });

  it('is a well-formed OpenAPI 3.1 document', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(openApiProblems(document)).toEqual([]);
  });

  it('has a structure check that does catch a broken document', () => {
    const broken = structuredClone(document);
    const getInvoice = broken.paths['/v1/invoices/{invoiceId}']?.get;
    if (!getInvoice) throw new Error('the document lacks GET /v1/invoices/{invoiceId}');
    getInvoice.parameters = [];
    getInvoice.security = [{ cookie: [] }];
    getInvoice.responses['200'] = { description: 'x', content: { 'application/json': { schema: { $ref: '#/x' } } } };
    expect(openApiProblems(broken)).toEqual([
      '$ref #/x resolves to nothing',
      'get /v1/invoices/{invoiceId}: path parameter {invoiceId} not declared',
      'get /v1/invoices/{invoiceId}: security names unknown scheme cookie',
    ]);
    expect(openApiProblems({ ...broken, openapi: '3.0.3', paths: { 'no-slash': {} } })).toEqual([
      '/openapi: must match pattern "^3\\.1\\.\\d+$"',
      '/paths: must match pattern "^/"',
      '/paths: property name must be valid',
    ]);
  });

  it('has one operation for each route of the app, and no operation without a route', () => {
    // Routes a reader of the API has no use for, each hidden on purpose by its schema.
    const hidden = (method: string, url: string) =>
      url.startsWith('/docs') ||
      url === '/metrics' || // Prometheus' scrape in its text format, for the platform rather than services
      method === 'OPTIONS' ||
      /^\/webhooks\/xprizo\/(approval|payment)$/.test(url);
    const routes = routeTable(app)
      .filter(({ method }) => method !== 'HEAD')
      .filter(({ method, url }) => !hidden(method, url))
      .map(({ method, url }) => `${method} ${url.replace(/:(\w+)/g, '{$1}')}`)
      .sort();
    const operations = Object.entries(document.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(operations).toEqual(routes);
    // The service API in full, so a route lost from both sides is noticed too.
    expect(operations.filter((operation) => operation.includes(' /v1/'))).toEqual(
      [
        'GET /v1/events',
        'GET /v1/invoices',
        'POST /v1/invoices',
        'GET /v1/invoices/{invoiceId}',
        'GET /v1/reconciliations',
        'POST /v1/reconciliations',
        'GET /v1/reconciliations/{id}',
        ...['approve', 'cancel', 'complete', 'reject', 'resolve'].map((a) => `POST /v1/invoices/{invoiceId}/${a}`),
        'GET /v1/webhook-endpoints',
        'POST /v1/webhook-endpoints',
        'GET /v1/webhook-endpoints/{id}',
        'PATCH /v1/webhook-endpoints/{id}',
        'DELETE /v1/webhook-endpoints/{id}',
        'POST /v1/webhook-endpoints/{id}/rotate-secret',
        'GET /v1/webhook-endpoints/{id}/attempts',
      ].sort(),
    );
  });

  it('refuses to build with a route that declares no response schema, which the document could not describe', async () => {
    const another = gateway();
    try {
      expect(() => another.get('/v1/undocumented', () => 'hidden')).toThrow(
        /GET \/v1\/undocumented declares no response/,
      );
    } finally {
      await another.close();
    }
  });

  it('declares the API key every service route requires, and the problems it can answer', () => {
    expect(document.components?.securitySchemes).toEqual({
      apiKey: expect.objectContaining({ type: 'http', scheme: 'bearer' }) as unknown,
    });
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const where = `${method} ${path}`;
        const authenticated = path.startsWith('/v1/') || path.startsWith('/codec/');
        expect([where, operation.security]).toEqual([where, authenticated ? [{ apiKey: [] }] : []]);
        if (!authenticated) continue;
        for (const status of ['400', '401', '403', '429', '503']) {
          expect([where, status, operation.responses[status]?.content]).toEqual([
            where,
            status,
            { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
          ]);
        }
      }
    }
    const createInvoice = document.paths['/v1/invoices']?.post;
    expect(createInvoice?.requestBody?.content['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/InvoiceRequestInput',
    });
    expect(createInvoice?.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'idempotency-key', in: 'header' })]),
    );
  });

  it('answers a request its schemas refuse with problem+json naming the fields, before any Temporal call', async () => {
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });
    const badId = await app.inject({
      method: 'POST',
      url: '/v1/invoices/not%20an%20id/approve',
      headers: auth(TEST_KEYS.approver),
      payload: {},
    });
    expect(badId.statusCode).toBe(400);
    expect(badId.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(badId.json<Problem>()).toMatchObject({
      type: 'ValidationError',
      detail: 'invalid invoice id',
      errors: [{ path: 'invoiceId', message: expect.any(String) as string }],
    });

    const badBody = await app.inject({
      method: 'POST',
      url: '/v1/invoices',
      headers: auth(TEST_KEYS.service),
      payload: { ...invoiceRequest(), currency: 'XXX', customer: { ...invoiceRequest().customer, email: 'nope' } },
    });
    expect(badBody.statusCode).toBe(400);
    expect(badBody.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = badBody.json<Problem>();
    expect(problem).toMatchObject({ type: 'InvalidInvoiceRequest', title: 'Bad Request', status: 400 });
    expect(problem.errors?.map((error) => error.path).sort()).toEqual(['currency', 'customer.email']);

    const badQuery = await app.inject({ url: '/v1/invoices?pageSize=many', headers: auth(TEST_KEYS.reader) });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json<Problem>().errors?.map((error) => error.path)).toEqual(['pageSize']);

    // The role is checked before the input: a key that may not create learns nothing about the request's shape.
    const notAllowed = await app.inject({
      method: 'POST',
      url: '/v1/invoices',
      headers: auth(TEST_KEYS.reader),
      payload: { nonsense: true },
    });
    expect(notAllowed.statusCode).toBe(403);
    expect(notAllowed.json<Problem>()).toMatchObject({ type: 'Forbidden' });
  });

  it('serves the interactive page at /docs, with every script and stylesheet it loads', async () => {
    const page = await app.inject('/docs');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? '');
    expect(assets.filter((asset) => asset.endsWith('.js')).length).toBeGreaterThanOrEqual(2);
    expect(assets.filter((asset) => asset.endsWith('.css')).length).toBeGreaterThanOrEqual(1);
    for (const asset of assets) {
      const response = await app.inject(new URL(asset, 'http://gateway/docs/').pathname);
      expect([asset, response.statusCode]).toEqual([asset, 200]);
      if (asset.endsWith('.js')) expect(response.headers['content-type']).toMatch(/javascript/);
      if (asset.endsWith('.css')) expect(response.headers['content-type']).toMatch(/^text\/css/);
    }
    // The page loads the document from its own JSON route: the same document as /openapi.json.
    const initializer = await app.inject('/docs/static/swagger-initializer.js');
    const documentUrl = /url: resolveUrl\('([^']+)'\)/.exec(initializer.body)?.[1] ?? '';
    expect(documentUrl).not.toBe('');
    const loaded = await app.inject(new URL(documentUrl, 'http://gateway/docs/').pathname);
    expect(loaded.statusCode).toBe(200);
    expect(loaded.json()).toEqual(document);
  });
});

/** Fastify's own route table, read from `printRoutes`: each line a path segment under its parent, with its methods. */
function routeTable(app: FastifyInstance): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const parents: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const url = (parents[depth - 1] ?? '') + (match[2] ?? '');
    parents[depth] = url;
    parents.length = depth + 1;
    for (const method of (match[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean))
      routes.push({ method, url });
  }
  return routes;
}
