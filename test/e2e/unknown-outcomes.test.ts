import { isFinalStatus, type ProviderName } from '../../src/domain/constants';
import { gatewayClient, sampleRequest, sandboxCustomer, waitUntil } from '../../src/dev/samples';
import { tenantInvoiceKey, type InvoiceState } from '../../src/workflows/definitions';
import { uniqueId } from '../support/requests';
import { TEST_KEYS, TEST_TENANT, providerInvoice } from '../support/access';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * A creating or money-moving call that never gets an answer until its retries run out: the invoice must end in the
 * provider's real state, or in NEEDS_REVIEW for an operator, and never FAILED while something lives at the provider.
 */
describe('a provider call whose outcome stays unknown', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Four seconds of retries, not production's thirty minutes, so the unknown-outcome path comes quickly.
    stack = await startTestStack({ env: { INVOICE_PROVIDER_CALL_BUDGET_SECONDS: '4' } });
  });
  afterAll(async () => stack?.stop());

  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${stack.api.gatewayUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${TEST_KEYS.operator}`, 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });

  const ledger = async (provider: ProviderName, state: InvoiceState, request: ReturnType<typeof sampleRequest>) =>
    stack.providers[provider].fetchStatus({
      invoice: providerInvoice(request),
      refs: state.providerRefs,
      idempotencyKey: `${state.invoiceId}:check`,
    });

  it('follows what the provider shows when every answer to a creation is lost', async () => {
    const payone = stack.sandboxes.get('payone');
    payone.faults.failAlways('POST', /\/createPreAuthInvoice$/, 'lost-response');
    const invoiceId = uniqueId('lost_create');
    const request = sampleRequest({ invoiceId, provider: 'payone', direction: 'pay_in' });
    const gateway = gatewayClient(stack.api);
    await gateway.create(request);

    const submitted = await waitUntil(stack.api, invoiceId, (s) => s.status === 'SUBMITTED' || isFinalStatus(s.status));
    expect(submitted.status).toBe('SUBMITTED');
    expect(submitted.lastError?.step).toBe('submit');
    await sandboxCustomer(stack.api).preAuthorizePayOne(invoiceId);
    await waitUntil(stack.api, invoiceId, (s) => s.status === 'AWAITING_APPROVAL');
    await gateway.decide(invoiceId, 'approve');
    const final = await waitUntil(stack.api, invoiceId, (s) => isFinalStatus(s.status));

    expect(final.status).toBe('COMPLETED');
    expect((await ledger('payone', final, request)).status).toBe('settled');
    expect(payone.counter.get('invoice', tenantInvoiceKey(TEST_TENANT, invoiceId))).toBe(1);
  });

  it('ends FAILED only when the provider shows that nothing was created', async () => {
    const bitfinex = stack.sandboxes.get('bitfinex');
    bitfinex.faults.failAlways('POST', /\/invoice\/create$/, 'error');
    const invoiceId = uniqueId('failed_create');
    const request = sampleRequest({ invoiceId, provider: 'bitfinex', direction: 'pay_in' });
    await gatewayClient(stack.api).create(request);
    const final = await waitUntil(stack.api, invoiceId, (s) => isFinalStatus(s.status));

    expect(final.status).toBe('FAILED');
    expect(final.failure?.message).toContain('has no record of it');
    expect(bitfinex.counter.get('invoice', tenantInvoiceKey(TEST_TENANT, invoiceId))).toBe(0);
  });

  it('waits in NEEDS_REVIEW when the provider cannot say, until an operator resolves it', async () => {
    const payone = stack.sandboxes.get('payone');
    const invoiceId = uniqueId('review');
    const request = sampleRequest({ invoiceId, provider: 'payone', direction: 'pay_in' });
    const gateway = gatewayClient(stack.api);
    await gateway.create(request);
    await waitUntil(stack.api, invoiceId, (s) => s.status === 'SUBMITTED' || s.status === 'AWAITING_APPROVAL');
    await sandboxCustomer(stack.api).preAuthorizePayOne(invoiceId);
    await waitUntil(stack.api, invoiceId, (s) => s.status === 'AWAITING_APPROVAL');

    // The capture happens at PayOne, but neither its answer nor any inquiry gets back to us.
    payone.faults.failAlways('POST', /\/completeInvoice$/, 'lost-response');
    payone.faults.failAlways('POST', /\/inquireInvoice$/, 'error');
    await gateway.decide(invoiceId, 'approve');
    const review = await waitUntil(stack.api, invoiceId, (s) => s.status === 'NEEDS_REVIEW' || isFinalStatus(s.status));
    expect(review.status).toBe('NEEDS_REVIEW');
    expect(review.review?.step).toBe('complete');
    expect(review.compensations).toEqual([]);

    // Operators find it by status, and nothing but a resolve ends it.
    await expect(gateway.decide(invoiceId, 'cancel')).rejects.toMatchObject({ status: 409 });
    const listed = async () => {
      const body = (await (await api('/v1/invoices?status=NEEDS_REVIEW')).json()) as {
        invoices: { invoiceId: string }[];
      };
      return body.invoices.map((i) => i.invoiceId);
    };
    for (let i = 0; i < 50 && !(await listed()).includes(invoiceId); i++) await new Promise((r) => setTimeout(r, 200));
    expect(await listed()).toContain(invoiceId);

    const missingReason = await api(`/v1/invoices/${invoiceId}/resolve`, {
      method: 'POST',
      body: { outcome: 'COMPLETED' },
    });
    expect(missingReason.status).toBe(400);
    expect(JSON.stringify(await missingReason.json())).toContain('reason');

    const resolved = await api(`/v1/invoices/${invoiceId}/resolve`, {
      method: 'POST',
      body: { outcome: 'COMPLETED', reason: 'PayOne back office shows the capture' },
    });
    expect(resolved.status).toBe(200);
    const final = (await resolved.json()) as InvoiceState;
    expect(final.status).toBe('COMPLETED');
    expect(final.resolution).toMatchObject({ outcome: 'COMPLETED', by: 'test-operator' });

    const again = await api(`/v1/invoices/${invoiceId}/resolve`, {
      method: 'POST',
      body: { outcome: 'FAILED', reason: 'second thoughts' },
    });
    expect(again.status).toBe(409);
    // The operator's word agrees with PayOne's own records (read from the sandbox, since inquiries still fail).
    const atPayOne = (await (
      await fetch(`${stack.api.sandboxUrl}/payone/_sandbox/invoices/${tenantInvoiceKey(TEST_TENANT, invoiceId)}`)
    ).json()) as {
      result: { status: string };
    };
    expect(atPayOne.result.status).toBe('completed');
  });
});
