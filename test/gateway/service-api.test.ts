import { WorkflowNotFoundError } from '@temporalio/client';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest, uniqueId } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually, waitForStatus } from '../support/wait';
import type { Problem } from '../../src/gateway/problem';
import { invoiceWorkflowId, type InvoiceState } from '../../src/workflows/definitions';
import { TEST_KEYS, TEST_TENANT } from '../support/access';
import { json, startTestGateway, type TestGateway } from './gateway-env';

describe('gateway service API', () => {
  const { registry } = fakeRegistry();
  let env: TestEnv;
  let gateway: TestGateway;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry, tenant: TEST_TENANT });
    gateway = await startTestGateway(env, { providers: registry });
  });
  afterAll(async () => {
    await gateway?.close();
    await env?.stop();
  });

  it('creates an invoice once: 201, the same request 200 on the same workflow, another body 409', async () => {
    const request = invoiceRequest();
    const first = await gateway.call('/v1/invoices', { body: request });
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(`/v1/invoices/${request.invoiceId}`);
    const created = await json<InvoiceState>(first);
    expect(created).toMatchObject({ invoiceId: request.invoiceId, provider: 'alfred', amount: 12500, currency: 'USD' });

    const again = await gateway.call('/v1/invoices', { body: request });
    expect(again.status).toBe(200);
    expect((await json<InvoiceState>(again)).invoiceId).toBe(request.invoiceId);

    const conflict = await gateway.call('/v1/invoices', { body: { ...request, amount: 999 } });
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await json<Problem>(conflict)).toMatchObject({ type: 'InvoiceConflict', status: 409 });

    const runs: string[] = [];
    for await (const execution of env.temporal.workflow.list({
      query: `WorkflowId = '${invoiceWorkflowId(`${TEST_TENANT}_${request.invoiceId}`)}'`,
    })) {
      runs.push(execution.runId);
    }
    expect(runs).toHaveLength(1);
  });

  it('takes the Idempotency-Key header as the invoice id, and refuses one that contradicts the body', async () => {
    const { invoiceId, ...withoutId } = invoiceRequest();
    const created = await gateway.call('/v1/invoices', { body: withoutId, headers: { 'idempotency-key': invoiceId } });
    expect(created.status).toBe(201);
    expect((await json<InvoiceState>(created)).invoiceId).toBe(invoiceId);

    const mismatch = await gateway.call('/v1/invoices', {
      body: { ...withoutId, invoiceId },
      headers: { 'idempotency-key': uniqueId() },
    });
    expect(mismatch.status).toBe(400);
    expect((await json<Problem>(mismatch)).errors?.map((error) => error.path)).toEqual(['invoiceId']);
  });

  it('answers a validation error with problem+json naming the fields', async () => {
    const bad = { ...invoiceRequest(), amount: 12.5, customer: { ...invoiceRequest().customer, email: 'nope' } };
    const response = await gateway.call('/v1/invoices', { body: bad });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = await json<Problem>(response);
    expect(body).toMatchObject({ type: 'InvalidInvoiceRequest', title: 'Bad Request', status: 400 });
    expect(body.errors?.map((error) => error.path)).toEqual(expect.arrayContaining(['amount', 'customer.email']));
  });

  it('refuses an alfred pay-out without the phone its KYC needs: 400 naming customer.phone, no workflow', async () => {
    const request = invoiceRequest({
      direction: 'pay_out',
      customer: { ...invoiceRequest().customer, phone: undefined },
    });
    const response = await gateway.call('/v1/invoices', { body: request });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = await json<Problem>(response);
    expect(body).toMatchObject({ type: 'InvalidInvoiceRequest', status: 400 });
    expect(body.errors).toEqual([{ path: 'customer.phone', message: expect.stringMatching(/phone/) as string }]);
    await expect(env.invoices.handle(request.invoiceId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('refuses a missing or unknown API key with 401 problem+json', async () => {
    const unknown = await gateway.call('/v1/invoices', { headers: { authorization: 'Bearer not-a-key' } });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toBe('Bearer');
    expect(await json<Problem>(unknown)).toMatchObject({ type: 'Unauthorized', status: 401 });
    const missing = await fetch(`${gateway.url}/v1/invoices`);
    expect(missing.status).toBe(401);
    const reader = await gateway.call('/v1/invoices?pageSize=1', { key: TEST_KEYS.reader });
    expect(reader.status).toBe(200);
  });

  it('approves over HTTP and refuses an approval in the wrong state with 409 and the reason', async () => {
    const request = invoiceRequest({
      provider: 'xprizo',
      approval: { required: true, approvers: ['test-approver'], timeoutSeconds: 600 },
    });
    expect((await gateway.call('/v1/invoices', { body: request })).status).toBe(201);
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
    const approve = (key: string, body: unknown = {}) =>
      gateway.call(`/v1/invoices/${request.invoiceId}/approve`, { body, key });

    const notListed = await approve(TEST_KEYS.approver2);
    expect(notListed.status).toBe(403);
    expect(await json<Problem>(notListed)).toMatchObject({ type: 'NotAllowed' });

    const invalid = await approve(TEST_KEYS.approver, { reason: 42 });
    expect(invalid.status).toBe(400);
    expect((await json<Problem>(invalid)).errors?.map((error) => error.path)).toEqual(['reason']);

    const approved = await approve(TEST_KEYS.approver, { reason: 'checked' });
    expect(approved.status).toBe(200);
    const state = await json<InvoiceState>(approved);
    expect(state.approval?.by).toBe('test-approver');
    expect(['APPROVED', 'AWAITING_SETTLEMENT']).toContain(state.status);

    const late = await gateway.call(`/v1/invoices/${request.invoiceId}/reject`, { body: {}, key: TEST_KEYS.approver });
    expect(late.status).toBe(409);
    const problem = await json<Problem>(late);
    expect(problem.type).toBe('InvalidState');
    expect(problem.detail).toMatch(/^InvalidState: /);

    const fetched = await gateway.call(`/v1/invoices/${request.invoiceId}`);
    expect(fetched.status).toBe(200);
    expect((await json<InvoiceState>(fetched)).approval?.by).toBe('test-approver');
  });

  it('answers 404 for an unknown invoice, for reads and decisions', async () => {
    const id = uniqueId();
    const read = await gateway.call(`/v1/invoices/${id}`);
    expect(read.status).toBe(404);
    expect(await json<Problem>(read)).toMatchObject({ type: 'InvoiceNotFound', status: 404 });
    expect((await gateway.call(`/v1/invoices/${id}/cancel`, { body: {} })).status).toBe(404);
    expect((await gateway.call('/v1/nothing-here')).status).toBe(404);
  });

  it('lists invoices by status and customer, page by page, and validates the query', async () => {
    const customer = { ...invoiceRequest().customer, id: `cus_${uniqueId()}` };
    const requests = [invoiceRequest({ customer }), invoiceRequest({ customer })];
    for (const request of requests) expect((await gateway.call('/v1/invoices', { body: request })).status).toBe(201);
    for (const request of requests) await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');

    const query = `status=AWAITING_SETTLEMENT&customerId=${customer.id}&provider=alfred`;
    const ids = await eventually(async () => {
      const page = await json<{ invoices: { invoiceId: string }[] }>(await gateway.call(`/v1/invoices?${query}`));
      const found = page.invoices.map((invoice) => invoice.invoiceId).sort();
      return found.length === 2 ? found : undefined;
    });
    expect(ids).toEqual(requests.map((request) => request.invoiceId).sort());

    const first = await json<{ invoices: unknown[]; nextPageToken?: string }>(
      await gateway.call(`/v1/invoices?${query}&pageSize=1`),
    );
    expect(first.invoices).toHaveLength(1);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const second = await json<{ invoices: unknown[] }>(
      await gateway.call(`/v1/invoices?${query}&pageSize=1&pageToken=${encodeURIComponent(first.nextPageToken ?? '')}`),
    );
    expect(second.invoices).toHaveLength(1);
    expect(second.invoices[0]).not.toEqual(first.invoices[0]);

    const bad = await gateway.call('/v1/invoices?status=DONE&pageSize=0');
    expect(bad.status).toBe(400);
    expect((await json<Problem>(bad)).errors?.map((error) => error.path).sort()).toEqual(['pageSize', 'status']);
  });

  it('refuses a body over the limit with 413 and malformed JSON with 400', async () => {
    const huge = { ...invoiceRequest(), description: 'x'.repeat(300 * 1024) };
    const tooLarge = await gateway.call('/v1/invoices', { body: huge });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const malformed = await gateway.call('/v1/invoices', { body: '{"invoiceId": ' });
    expect(malformed.status).toBe(400);
    expect(await json<Problem>(malformed)).toMatchObject({ type: 'MalformedJson' });
  });

  it('serves an OpenAPI document generated from the zod schemas', async () => {
    const response = await fetch(`${gateway.url}/openapi.json`);
    expect(response.status).toBe(200);
    const document = await json<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    }>(response);
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/invoices', '/v1/invoices/{invoiceId}', '/v1/invoices/{invoiceId}/approve']),
    );
    const invoiceRequestSchema = document.components.schemas.InvoiceRequest;
    expect(invoiceRequestSchema?.required).toEqual(
      expect.arrayContaining(['invoiceId', 'provider', 'direction', 'amount', 'currency', 'customer']),
    );
    expect(invoiceRequestSchema?.properties?.amount).toMatchObject({ type: 'integer' });
  });

  it('is healthy and ready while Temporal and a worker are up', async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await json(ready)).toMatchObject({ temporal: true, worker: true });
  });
});
