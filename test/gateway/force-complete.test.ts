import type { Problem } from '../../src/gateway/problem';
import type { InvoiceState } from '../../src/workflows/definitions';
import { TEST_KEYS, TEST_TENANT } from '../support/access';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { waitForStatus } from '../support/wait';
import { json, startTestGateway, type TestGateway } from './gateway-env';

describe('gateway: POST /v1/invoices/:id/complete', () => {
  const { registry, fakes } = fakeRegistry();
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

  const complete = (invoiceId: string, body: unknown, key: string = TEST_KEYS.approver) =>
    gateway.call(`/v1/invoices/${invoiceId}/complete`, { body, key });
  const forceCalls = (invoiceId: string) =>
    fakes.bitfinex.calls.filter((call) => call.step === 'forceComplete' && call.invoiceId.endsWith(invoiceId)).length;

  async function started(overrides: Parameters<typeof invoiceRequest>[0], key: string = TEST_KEYS.service) {
    const request = invoiceRequest({ provider: 'bitfinex', ...overrides });
    expect((await gateway.call('/v1/invoices', { body: request, key })).status).toBe(201);
    return request.invoiceId;
  }

  it('refuses a malformed completion with 400 naming the field, before asking the workflow', async () => {
    const invoiceId = await started({});
    await waitForStatus(env.invoices, invoiceId, 'AWAITING_SETTLEMENT');
    for (const [body, path] of [
      [{ payCcy: 'BTC' }, 'depositId'],
      [{ payCcy: 'BTC', depositId: 1, ledgerId: 2 }, 'depositId'],
      [{ payCcy: 'btc', depositId: 1 }, 'payCcy'],
      [{ payCcy: 'BTC', depositId: -3 }, 'depositId'],
      [{ depositId: 1 }, 'payCcy'],
    ] as const) {
      const response = await complete(invoiceId, body);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await json<Problem>(response)).errors?.map((error) => error.path)).toContain(path);
    }
    expect(forceCalls(invoiceId)).toBe(0);
    expect((await env.invoices.getInvoice(invoiceId)).status).toBe('AWAITING_SETTLEMENT');
  });

  it('refuses 403: a key without invoices:approve, a body naming another principal, the creator', async () => {
    const invoiceId = await started({});
    await waitForStatus(env.invoices, invoiceId, 'AWAITING_SETTLEMENT');
    const body = { payCcy: 'BTC', depositId: 9001 };
    const reader = await complete(invoiceId, body, TEST_KEYS.reader);
    expect(reader.status).toBe(403);
    expect((await json<Problem>(reader)).type).toBe('Forbidden');
    const impersonating = await complete(invoiceId, { ...body, by: 'test-approver-2' });
    expect(impersonating.status).toBe(403);
    expect((await json<Problem>(impersonating)).errors?.[0]?.path).toBe('by');

    // A principal that may create and approve: its own invoice is not its to complete by hand.
    const own = await started({}, TEST_KEYS.otherTenant);
    const other = (await gateway.call(`/v1/invoices/${own}`, { key: TEST_KEYS.otherTenant })).status;
    expect(other).toBe(200);
    let state: InvoiceState | undefined;
    for (let i = 0; i < 100 && state?.status !== 'AWAITING_SETTLEMENT'; i++) {
      state = await json<InvoiceState>(await gateway.call(`/v1/invoices/${own}`, { key: TEST_KEYS.otherTenant }));
      if (state.status !== 'AWAITING_SETTLEMENT') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const creator = await complete(own, body, TEST_KEYS.otherTenant);
    expect(creator.status).toBe(403);
    expect(await json<Problem>(creator)).toMatchObject({ type: 'NotAllowed', status: 403 });
    expect(forceCalls(invoiceId) + forceCalls(own)).toBe(0);
  });

  it('refuses 409 an invoice not yet waiting for its payment (awaiting approval), then completes it once it is', async () => {
    const invoiceId = await started({ approval: { required: true, approvers: [], timeoutSeconds: 600 } });
    await waitForStatus(env.invoices, invoiceId, 'AWAITING_APPROVAL');
    const early = await complete(invoiceId, { payCcy: 'BTC', ledgerId: 55 });
    expect(early.status).toBe(409);
    expect((await json<Problem>(early)).detail).toMatch(/AWAITING_APPROVAL/);

    expect(
      (await gateway.call(`/v1/invoices/${invoiceId}/approve`, { body: {}, key: TEST_KEYS.approver })).status,
    ).toBe(200);
    await waitForStatus(env.invoices, invoiceId, 'AWAITING_SETTLEMENT');
    const done = await complete(invoiceId, { payCcy: 'BTC', ledgerId: 55 }, TEST_KEYS.approver2);
    // 200 with the ended invoice, or 202 while the completion is still on its way (a loaded machine).
    expect([200, 202]).toContain(done.status);
    const state =
      done.status === 200 ? await json<InvoiceState>(done) : await waitForStatus(env.invoices, invoiceId, 'COMPLETED');
    expect(state).toMatchObject({
      status: 'COMPLETED',
      forcedCompletion: { forced: true, by: 'test-approver-2', ledgerId: 55, outcome: 'completed' },
    });
    expect(state.forcedCompletion?.depositId).toBeUndefined();
    expect(forceCalls(invoiceId)).toBe(1);

    const final = await complete(invoiceId, { payCcy: 'BTC', ledgerId: 55 });
    expect(final.status).toBe(409);
    expect(await json<Problem>(final)).toMatchObject({ type: 'InvalidState' });
    expect(forceCalls(invoiceId)).toBe(1);
  });

  it('is in the OpenAPI document with its body schema', async () => {
    const document = await json<{
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
      components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
    }>(await fetch(`${gateway.url}/openapi.json`));
    expect(Object.keys(document.paths['/v1/invoices/{invoiceId}/complete']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '202', '400', '403', '404', '409', '502']),
    );
    const schema = document.components.schemas.ForceCompletion;
    expect(schema?.required).toEqual(['payCcy']);
    expect(Object.keys(schema?.properties ?? {})).toEqual(
      expect.arrayContaining(['payCcy', 'depositId', 'ledgerId', 'reason', 'by']),
    );
  });
});
