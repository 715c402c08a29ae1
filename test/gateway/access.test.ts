import { WorkflowUpdateFailedError } from '@temporalio/client';
import { accessDocumentFor, createAccessRegistry, type Role } from '../../src/access/principals';
import { NotAllowedError, scopedInvoiceClient } from '../../src/client';
import type { Problem } from '../../src/gateway/problem';
import { approveUpdate, providerEventSignal, type InvoiceState } from '../../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { invoiceRequest, uniqueId } from '../support/requests';
import { startTestEnv, testConfig, type TestEnv } from '../support/temporal-env';
import { eventually, waitForStatus } from '../support/wait';
import { json, startTestGateway, type TestGateway } from './gateway-env';

/**
 * Two tenants with the default policy (pay-outs wait for an approval), acme asking two approvers from 100.00 USD.
 * Each principal's key is its id with a suffix, so a failure names who acted.
 */
const ALL: Role[] = ['invoices:create', 'invoices:read', 'invoices:approve', 'invoices:cancel'];
const PRINCIPALS = [
  { id: 'acme-service', tenant: 'acme', roles: ALL },
  { id: 'acme-alice', tenant: 'acme', roles: ['invoices:read', 'invoices:approve', 'invoices:cancel'] as Role[] },
  { id: 'acme-bob', tenant: 'acme', roles: ['invoices:read', 'invoices:approve'] as Role[] },
  { id: 'acme-auditor', tenant: 'acme', roles: ['invoices:read'] as Role[] },
  { id: 'globex-service', tenant: 'globex', roles: ALL },
].map((principal) => ({ ...principal, key: `${principal.id}-key-0123456789` }));
const key = (id: string) => `${id}-key-0123456789`;
const access = createAccessRegistry(
  accessDocumentFor(PRINCIPALS, {
    acme: { payoutApproval: 'required', twoApproversFrom: { USD: 10_000 } },
  }),
);

describe('principals, tenants and four-eyes approval', () => {
  const { registry } = fakeRegistry();
  let env: TestEnv;
  let gateway: TestGateway;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
    gateway = await startTestGateway(env, { providers: registry, access });
  });
  afterAll(async () => {
    await gateway?.close();
    await env?.stop();
  });

  const as = (principal: string, path: string, body?: unknown) =>
    gateway.call(path, { key: key(principal), ...(body === undefined ? {} : { body }) });
  const acme = () => scopedInvoiceClient(env.invoices, { tenant: 'acme', policyFor: access.policyFor });
  const create = async (principal: string, overrides: Parameters<typeof invoiceRequest>[0] = {}) => {
    // alfred's pay-out waits for nothing from the provider before its approval.
    const request = invoiceRequest({ provider: 'alfred', ...overrides });
    const response = await as(principal, '/v1/invoices', request);
    expect(response.status).toBe(201);
    // The provider asks for the approval, as alfred does once a pay-out is submitted.
    const reference = (await json<InvoiceState>(response)).reference ?? '';
    await env.temporal.workflow
      .getHandle(`invoice-${reference}`)
      .signal(
        providerEventSignal,
        fakeEvent({ invoiceId: reference, provider: 'alfred' }, `ask-${reference}`, 'approval_requested'),
      );
    return request;
  };

  it("answers another tenant's invoice exactly like a missing one, on every route, and never lists it", async () => {
    const theirs = await create('globex-service', { direction: 'pay_out' });
    await waitForStatus(scopedInvoiceClient(env.invoices, { tenant: 'globex' }), theirs.invoiceId, 'AWAITING_APPROVAL');
    const missing = uniqueId();
    for (const [suffix, body] of [
      ['', undefined],
      ['/approve', {}],
      ['/reject', {}],
      ['/cancel', {}],
    ] as const) {
      const foreign = await as('acme-service', `/v1/invoices/${theirs.invoiceId}${suffix}`, body);
      const absent = await as('acme-service', `/v1/invoices/${missing}${suffix}`, body);
      expect([suffix, foreign.status]).toEqual([suffix, 404]);
      const [foreignProblem, absentProblem] = [await json<Problem>(foreign), await json<Problem>(absent)];
      expect({ ...foreignProblem, detail: undefined }).toEqual({ ...absentProblem, detail: undefined });
      expect(foreignProblem.detail?.replace(theirs.invoiceId, 'ID')).toBe(absentProblem.detail?.replace(missing, 'ID'));
    }
    // The owner still sees it untouched, and the same id is free for the other tenant.
    const own = await json<InvoiceState>(await as('globex-service', `/v1/invoices/${theirs.invoiceId}`));
    expect(own).toMatchObject({ invoiceId: theirs.invoiceId, status: 'AWAITING_APPROVAL' });
    expect(own.approval).toBeUndefined();
    expect((await as('acme-service', '/v1/invoices', { ...theirs, amount: 500 })).status).toBe(201);

    const listed = async (principal: string) => {
      const page = await json<{ invoices: { invoiceId: string; workflowId: string }[] }>(
        await as(principal, `/v1/invoices?customerId=${theirs.customer.id}&pageSize=100`),
      );
      return page.invoices;
    };
    const globexList = await eventually(async () => {
      const found = await listed('globex-service');
      return found.some((invoice) => invoice.invoiceId === theirs.invoiceId) ? found : undefined;
    });
    expect(globexList.every((invoice) => invoice.workflowId.startsWith('invoice-globex_'))).toBe(true);
    const acmeList = await eventually(async () => {
      const found = await listed('acme-service');
      return found.some((invoice) => invoice.invoiceId === theirs.invoiceId) ? found : undefined;
    });
    // acme sees its own invoice of that id (the 5.00 one), never globex's.
    expect(acmeList.filter((invoice) => invoice.invoiceId === theirs.invoiceId)).toEqual([
      expect.objectContaining({ workflowId: `invoice-acme_${theirs.invoiceId}` }),
    ]);
    expect(acmeList.some((invoice) => invoice.workflowId.startsWith('invoice-globex_'))).toBe(false);
  });

  it('gives a read-only key 403 on create and on every decision, and takes the deciding party from the key', async () => {
    const request = await create('acme-service', { direction: 'pay_out', amount: 5_000 });
    await waitForStatus(acme(), request.invoiceId, 'AWAITING_APPROVAL');
    const create403 = await as('acme-auditor', '/v1/invoices', invoiceRequest({ provider: 'xprizo' }));
    expect(create403.status).toBe(403);
    expect(await json<Problem>(create403)).toMatchObject({ type: 'Forbidden' });
    for (const action of ['approve', 'reject', 'cancel']) {
      expect([action, (await as('acme-auditor', `/v1/invoices/${request.invoiceId}/${action}`, {})).status]).toEqual([
        action,
        403,
      ]);
    }
    expect((await as('acme-auditor', `/v1/invoices/${request.invoiceId}`)).status).toBe(200);

    // The creator names an approver in the body: refused, and nothing was decided.
    const impersonation = await as('acme-service', `/v1/invoices/${request.invoiceId}/approve`, { by: 'acme-alice' });
    expect(impersonation.status).toBe(403);
    expect((await json<Problem>(impersonation)).errors?.map((error) => error.path)).toEqual(['by']);
    expect((await acme().getInvoice(request.invoiceId)).approvals).toBeUndefined();

    const approved = await as('acme-alice', `/v1/invoices/${request.invoiceId}/approve`, { by: 'acme-alice' });
    expect(approved.status).toBe(200);
    expect((await json<InvoiceState>(approved)).approval?.by).toBe('acme-alice');
  });

  it('holds a pay-out for approval by default and never lets its creator approve it, by any door', async () => {
    // The request does not ask for an approval; the tenant's policy does.
    const request = await create('acme-service', { direction: 'pay_out', amount: 5_000 });
    const waiting = await waitForStatus(acme(), request.invoiceId, 'AWAITING_APPROVAL');
    expect(waiting.approvalsRequired).toBeUndefined();

    const gatewayTry = await as('acme-service', `/v1/invoices/${request.invoiceId}/approve`, {});
    expect(gatewayTry.status).toBe(403);
    const refusal = await json<Problem>(gatewayTry);
    expect(refusal).toMatchObject({ type: 'NotAllowed' });
    expect(refusal.detail).toMatch(/created this invoice/);

    const library = scopedInvoiceClient(env.invoices, { tenant: 'acme', principal: 'acme-service' });
    await expect(library.approveInvoice(request.invoiceId, { by: 'acme-service' })).rejects.toBeInstanceOf(
      NotAllowedError,
    );

    const direct = await env.temporal.workflow
      .getHandle(`invoice-acme_${request.invoiceId}`)
      .executeUpdate(approveUpdate, { args: [{ by: 'acme-service' }] })
      .catch((error: unknown) => error);
    expect(direct).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((direct as WorkflowUpdateFailedError).cause?.message).toMatch(/^NotAllowed: acme-service created/);

    const state = await acme().getInvoice(request.invoiceId);
    expect(state.status).toBe('AWAITING_APPROVAL');
    expect(state.approvals).toBeUndefined();
  });

  it('needs two distinct approvers for a pay-out at or above the policy amount', async () => {
    const request = await create('acme-service', { direction: 'pay_out', amount: 10_000 });
    const waiting = await waitForStatus(acme(), request.invoiceId, 'AWAITING_APPROVAL');
    expect(waiting.approvalsRequired).toBe(2);

    const first = await as('acme-alice', `/v1/invoices/${request.invoiceId}/approve`, {});
    expect(first.status).toBe(200);
    const afterFirst = await json<InvoiceState>(first);
    expect(afterFirst.status).toBe('AWAITING_APPROVAL');
    expect(afterFirst.approvals?.map((approval) => approval.by)).toEqual(['acme-alice']);

    const again = await as('acme-alice', `/v1/invoices/${request.invoiceId}/approve`, {});
    expect(again.status).toBe(403);
    expect((await json<Problem>(again)).detail).toMatch(/another principal/);

    const second = await as('acme-bob', `/v1/invoices/${request.invoiceId}/approve`, {});
    expect(second.status).toBe(200);
    const approved = await json<InvoiceState>(second);
    expect(approved.approval).toMatchObject({ decision: 'approved', by: 'acme-alice, acme-bob' });
    expect(['APPROVED', 'AWAITING_SETTLEMENT']).toContain(approved.status);
  });

  it('limits requests per key and per source address with 429 and Retry-After', async () => {
    const app = await startTestGateway(
      { ...env, config: testConfig({ GATEWAY_RATE_LIMIT_PER_KEY: '3', GATEWAY_RATE_LIMIT_PER_ADDRESS: '6' }) },
      { providers: registry, access },
    );
    try {
      const read = (principal: string) => app.call('/v1/invoices?pageSize=1', { key: key(principal) });
      const alice = [];
      for (let i = 0; i < 4; i++) alice.push((await read('acme-alice')).status);
      expect(alice).toEqual([200, 200, 200, 429]);
      const refused = await read('acme-alice');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await json<Problem>(refused)).toMatchObject({ type: 'TooManyRequests', status: 429 });
      // Another key from the same address still has its own budget, until the address's is spent.
      expect((await read('acme-bob')).status).toBe(200);
      const webhook = await fetch(`${app.url}/webhooks/nowhere`, { method: 'POST' });
      expect(webhook.status).toBe(429);
      expect(webhook.headers.get('retry-after')).not.toBeNull();
    } finally {
      await app.close();
    }
  });

  it('keeps only digests of the keys and recognises no other key', () => {
    const document = accessDocumentFor([{ id: 'p', tenant: 't', roles: ['invoices:read'], key: 'secret-key-value' }]);
    expect(JSON.stringify(document)).not.toContain('secret-key-value');
    expect(document.principals[0]?.keys).toEqual([expect.stringMatching(/^sha256:[0-9a-f]{64}$/)]);
    const registryOfOne = createAccessRegistry(document);
    expect(registryOfOne.authenticate('Bearer secret-key-value')?.id).toBe('p');
    expect(registryOfOne.authenticate('Bearer secret-key-valuf')).toBeUndefined();
  });
});
