import { isFinalStatus } from '../../src/domain/constants';
import type { Problem } from '../../src/gateway/problem';
import type { BitfinexSandbox } from '../../src/providers/bitfinex/sandbox';
import { PATHS } from '../../src/providers/bitfinex/constants';
import type { InvoiceState } from '../../src/workflows/definitions';
import { TEST_KEYS, TEST_TENANT } from '../support/access';
import { BUILD_WAIT_MS, ensureBuilt } from '../support/build';
import { payorchAgainst } from '../support/processes';
import { invoiceRequest, uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually, waitForStatus } from '../support/wait';

const COMPLETE_PATH = new RegExp(`/${PATHS.complete.replace(/\//g, '\\/')}$`);

describe('Bitfinex completion by hand: POST /v1/invoices/:id/complete', () => {
  let stack: TestStack;
  let sandbox: BitfinexSandbox;
  beforeAll(async () => {
    // The payorch test below runs it from dist/, as it does when installed.
    await ensureBuilt();
    stack = await startTestStack();
    sandbox = stack.sandboxes.get<BitfinexSandbox>('bitfinex').sandbox;
  }, BUILD_WAIT_MS);
  afterAll(async () => stack?.stop());

  const call = (path: string, body?: unknown, key: string = TEST_KEYS.approver) =>
    fetch(`${stack.gateway.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const complete = (invoiceId: string, body: unknown, key?: string) =>
    call(`/v1/invoices/${invoiceId}/complete`, body, key);
  const completions = (invoiceId: string) =>
    stack.sandboxes.get('bitfinex').counter.get('complete', `${TEST_TENANT}_${invoiceId}`);

  /**
   * The invoice once its completion has run: answered at once (200), or after a 202 that says the completion is still
   * on its way to Bitfinex (a loaded machine can hold the rate-limited queue longer than the route waits).
   */
  async function completed(response: Response, invoiceId: string): Promise<InvoiceState> {
    expect([200, 202]).toContain(response.status);
    const state = (await response.json()) as InvoiceState;
    if (response.status === 200) return state;
    expect(state.forcedCompletion?.outcome).toBe('pending');
    return waitForStatus(stack.env.invoices, invoiceId, (s) => isFinalStatus(s.status));
  }

  /** A Bitfinex pay-in the service created, waiting for the customer's crypto; and the sandbox's invoice id. */
  async function waitingInvoice(): Promise<{ invoiceId: string; bitfinexId: string }> {
    const request = invoiceRequest({ provider: 'bitfinex' });
    expect((await call('/v1/invoices', request, TEST_KEYS.service)).status).toBe(201);
    const state = await waitForStatus(
      stack.env.invoices,
      request.invoiceId,
      (s) => s.status === 'AWAITING_SETTLEMENT' && Boolean(s.providerRefs.bitfinexInvoiceId),
    );
    return { invoiceId: request.invoiceId, bitfinexId: state.providerRefs.bitfinexInvoiceId ?? '' };
  }

  it('completes a waiting invoice at Bitfinex and in the workflow, recording that it was forced and by whom', async () => {
    const { invoiceId, bitfinexId } = await waitingInvoice();
    const depositId = sandbox.addUnlinkedDeposit('BTC', 0.002);

    const response = await complete(invoiceId, { payCcy: 'BTC', depositId, reason: 'deposit arrived untagged' });
    const state = await completed(response, invoiceId);
    expect(state.status).toBe('COMPLETED');
    expect(state.forcedCompletion).toMatchObject({
      forced: true,
      by: 'test-approver',
      reason: 'deposit arrived untagged',
      payCcy: 'BTC',
      depositId,
      outcome: 'completed',
      confirmedByProvider: true,
    });
    expect(state.transitions.at(-1)).toMatchObject({
      status: 'COMPLETED',
      note: 'completed by hand (forced) by test-approver',
    });
    expect(sandbox.invoice(bitfinexId)).toMatchObject({
      status: 'COMPLETED',
      payment: { forceCompleted: true, depositId, currency: 'BTC' },
    });
    expect(completions(invoiceId)).toBe(1);

    // Final now: another completion is refused, and Bitfinex is not asked again.
    const again = await complete(invoiceId, { payCcy: 'BTC', depositId });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await again.json()) as Problem).toMatchObject({ type: 'InvalidState', status: 409 });
    expect(completions(invoiceId)).toBe(1);
  });

  it('a second request while the first runs joins it: one completion at Bitfinex, and no cancel meanwhile', async () => {
    const { invoiceId } = await waitingInvoice();
    const depositId = sandbox.addUnlinkedDeposit('ETH', 0.04);
    const held = stack.sandboxes.get('bitfinex').faults.hold('POST', COMPLETE_PATH);
    const first = complete(invoiceId, { payCcy: 'ETH', depositId });
    await held.reached;

    const other = await complete(invoiceId, { payCcy: 'ETH', depositId: depositId + 1000 }, TEST_KEYS.approver2);
    expect(other.status).toBe(409);
    expect(((await other.json()) as Problem).detail).toMatch(/another deposit/);
    const cancel = await call(`/v1/invoices/${invoiceId}/cancel`, { reason: 'too late' }, TEST_KEYS.service);
    expect(cancel.status).toBe(409);
    expect(((await cancel.json()) as Problem).detail).toMatch(/being completed by hand/);
    const second = complete(invoiceId, { payCcy: 'ETH', depositId }, TEST_KEYS.approver2);
    // Both accepted by the workflow while Bitfinex still holds the first call.
    const handle = stack.env.invoices.handle(invoiceId);
    await eventually(async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      return events.filter((event) => event.workflowExecutionUpdateAcceptedEventAttributes).length === 2;
    });

    // Bitfinex still holds the call when the route's wait ends: both are told it is on its way, not that it failed.
    const pending = await Promise.all([first, second]);
    expect(pending.map((answer) => answer.status)).toEqual([202, 202]);
    const accepted = (await Promise.all(pending.map((answer) => answer.json()))) as InvoiceState[];
    expect(accepted.map((s) => [s.status, s.forcedCompletion?.outcome])).toEqual([
      ['AWAITING_SETTLEMENT', 'pending'],
      ['AWAITING_SETTLEMENT', 'pending'],
    ]);
    held.release();
    const done = await waitForStatus(stack.env.invoices, invoiceId, (s) => isFinalStatus(s.status));
    expect([done.status, done.forcedCompletion?.by, done.forcedCompletion?.outcome]).toEqual([
      'COMPLETED',
      'test-approver',
      'completed',
    ]);
    expect(completions(invoiceId)).toBe(1);
  });

  it('refuses another provider (409), an unknown invoice (404), a key without the approve role (403)', async () => {
    const request = invoiceRequest({
      provider: 'xprizo',
      approval: { required: true, approvers: [], timeoutSeconds: 600 },
    });
    expect((await call('/v1/invoices', request, TEST_KEYS.service)).status).toBe(201);
    await waitForStatus(stack.env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
    const xprizo = await complete(request.invoiceId, { payCcy: 'BTC', depositId: 1 });
    expect(xprizo.status).toBe(409);
    const problem = (await xprizo.json()) as Problem;
    expect(problem).toMatchObject({ type: 'InvalidState', status: 409 });
    expect(problem.detail).toMatch(/only a Bitfinex invoice/);

    const unknown = await complete(uniqueId(), { payCcy: 'BTC', depositId: 1 });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as Problem).type).toBe('InvoiceNotFound');

    const { invoiceId } = await waitingInvoice();
    const service = await complete(invoiceId, { payCcy: 'BTC', depositId: 1 }, TEST_KEYS.service);
    expect(service.status).toBe(403);
    expect(((await service.json()) as Problem).type).toBe('Forbidden');
    expect((await stack.env.invoices.getInvoice(invoiceId)).status).toBe('AWAITING_SETTLEMENT');
  });

  it('a deposit Bitfinex does not hold: 502 ForceCompleteFailed, and the invoice still waits for its payment', async () => {
    const { invoiceId, bitfinexId } = await waitingInvoice();
    const refused = await complete(invoiceId, { payCcy: 'BTC', depositId: 987_654 });
    expect(refused.status).toBe(502);
    const problem = (await refused.json()) as Problem;
    expect(problem).toMatchObject({ type: 'ForceCompleteFailed', status: 502 });
    expect(problem.detail).toMatch(/depositId/);
    const state = await stack.env.invoices.getInvoice(invoiceId);
    expect(state.status).toBe('AWAITING_SETTLEMENT');
    expect(state.forcedCompletion).toMatchObject({ forced: true, by: 'test-approver', outcome: 'failed' });
    expect(sandbox.invoice(bitfinexId)?.status).toBe('CREATED');

    // The customer pays after all: the invoice completes as usual, with no completion by hand claimed.
    sandbox.pay(bitfinexId, 'BTC');
    const done = await waitForStatus(stack.env.invoices, invoiceId, 'COMPLETED');
    expect(done.transitions.at(-1)?.note).toBeUndefined();
  });

  it('payorch invoice complete completes a waiting invoice, by the operator running it', async () => {
    const { invoiceId, bitfinexId } = await waitingInvoice();
    const depositId = sandbox.addUnlinkedDeposit('ETH', 0.04);
    const run = await payorch(
      ...['--tenant', TEST_TENANT, '--json', 'invoice', 'complete', invoiceId],
      ...['--pay-ccy', 'ETH', '--deposit-id', String(depositId), '--reason', 'matched by txid'],
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const state = JSON.parse(run.stdout) as InvoiceState;
    expect(state).toMatchObject({
      invoiceId,
      status: 'COMPLETED',
      forcedCompletion: { forced: true, by: expect.stringMatching(/^cli:/) as string, depositId, outcome: 'completed' },
    });
    expect(sandbox.invoice(bitfinexId)?.payment?.forceCompleted).toBe(true);

    const usage = await payorch('--tenant', TEST_TENANT, 'invoice', 'complete', invoiceId, '--pay-ccy', 'ETH');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/depositId/);
  });

  // Last: the sandbox loses every Complete Invoice answer from here on.
  it('an answer lost after Bitfinex completed: the retry finds it completed and does not complete it again', async () => {
    const { invoiceId } = await waitingInvoice();
    const depositId = sandbox.addUnlinkedDeposit('BTC', 0.002);
    stack.sandboxes.get('bitfinex').faults.failAlways('POST', COMPLETE_PATH, 'lost-response');
    const state = await completed(await complete(invoiceId, { payCcy: 'BTC', depositId }), invoiceId);
    expect(state.status).toBe('COMPLETED');
    expect(state.forcedCompletion).toMatchObject({
      outcome: 'completed',
      confirmedByProvider: true,
      detail: 'already completed by hand at bitfinex',
    });
    expect(completions(invoiceId)).toBe(1);
  });

  function payorch(...args: string[]) {
    return payorchAgainst({ address: stack.env.config.temporal.address, namespace: stack.env.namespace })(...args);
  }
});
