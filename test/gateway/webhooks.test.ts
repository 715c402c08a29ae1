import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually, waitForStatus } from '../support/wait';
import type { Problem } from '../../src/gateway/problem';
import { json, startTestGateway, type TestGateway } from './gateway-env';
import { sign, testRoute } from './webhook-doubles';

describe('gateway webhook ingress', () => {
  const { registry } = fakeRegistry();
  const alfredRoute = testRoute('', 'signal');
  const xprizoApproval = testRoute('/approval', 'signal');
  const xprizoPayment = testRoute('/payment', 'callback');
  let env: TestEnv;
  let gateway: TestGateway;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
    gateway = await startTestGateway(env, {
      providers: registry,
      webhooks: { alfred: [alfredRoute], xprizo: [xprizoApproval, xprizoPayment] },
      callbackWaitSeconds: 1,
      referenceWaitMs: 1500,
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await env?.stop();
  });

  const deliver = (path: string, body: unknown, signature?: string) => {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    return fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-signature': signature ?? sign(raw) },
      body: raw,
    });
  };
  const historyLength = async (invoiceId: string) =>
    (await env.invoices.handle(invoiceId).fetchHistory()).events?.length ?? 0;

  it('mounts one route per provider webhook', () => {
    const routes = gateway.app.printRoutes({ commonPrefix: false });
    expect(routes).toContain('/webhooks/alfred (POST)');
    expect(routes).toContain('/webhooks/xprizo/approval (POST)');
    expect(routes).toContain('/webhooks/xprizo/payment (POST)');
  });

  it('applies a webhook delivered twice once', async () => {
    const request = invoiceRequest();
    await env.invoices.startInvoice(request);
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    const event = { eventId: `evt-${request.invoiceId}`, status: 'pending', invoiceId: request.invoiceId };
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await deliver('/webhooks/alfred', event);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ received: true });
    }
    // The repeat is answered from the gateway's memory of delivered events: one signal, nothing for the workflow to
    // ignore, and the invoice's history does not grow.
    const state = await env.invoices.getInvoice(request.invoiceId);
    expect(state).toMatchObject({ eventsApplied: 1, eventsIgnored: 0 });
    const history = await env.invoices.handle(request.invoiceId).fetchHistory();
    const signals = (history.events ?? []).filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'providerEvent',
    );
    expect(signals).toHaveLength(1);
  });

  it('refuses a bad signature with 401 and signals nothing', async () => {
    const request = invoiceRequest();
    await env.invoices.startInvoice(request);
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    const before = await historyLength(request.invoiceId);
    const event = { eventId: 'forged', status: 'settled', invoiceId: request.invoiceId };
    const response = await deliver('/webhooks/alfred', event, sign(JSON.stringify(event), 'wrong-secret'));
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await json<Problem>(response)).toMatchObject({ status: 401, detail: 'bad_signature' });
    expect(await historyLength(request.invoiceId)).toBe(before);
    expect((await env.invoices.getInvoice(request.invoiceId)).eventsApplied).toBe(0);
  });

  it('refuses malformed JSON with 400 and a body over the limit with 413, before verifying', async () => {
    const verified = alfredRoute.verified;
    const malformed = await deliver('/webhooks/alfred', '{"eventId": "x",');
    expect(malformed.status).toBe(400);
    const huge = JSON.stringify({ eventId: 'big', status: 'settled', detail: 'x'.repeat(300 * 1024) });
    const tooLarge = await deliver('/webhooks/alfred', huge);
    expect(tooLarge.status).toBe(413);
    expect(alfredRoute.verified).toBe(verified);
  });

  it('answers 404 for an invoice not started yet, and lands the retry once it is', async () => {
    const request = invoiceRequest();
    const event = { eventId: `early-${request.invoiceId}`, status: 'pending', invoiceId: request.invoiceId };
    const early = await deliver('/webhooks/alfred', event);
    expect(early.status).toBe(404);

    await env.invoices.startInvoice(request);
    const retried = await deliver('/webhooks/alfred', event);
    expect(retried.status).toBe(200);
    await waitForStatus(env.invoices, request.invoiceId, (state) => state.eventsApplied === 1);
  });

  it("finds the invoice by the provider's reference", async () => {
    // The route is Xprizo's: only an Xprizo invoice may be found through it.
    const request = invoiceRequest({ provider: 'xprizo' });
    const unknown = await deliver('/webhooks/xprizo/approval', {
      eventId: 'by-ref-unknown',
      status: 'settled',
      transactionId: `tx-${request.invoiceId}`,
    });
    expect(unknown.status).toBe(404);

    await env.invoices.startInvoice(request);
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    const event = {
      eventId: `by-ref-${request.invoiceId}`,
      status: 'settled',
      transactionId: `tx-${request.invoiceId}`,
    };
    // The reference reaches the visibility store a moment after the workflow records it.
    await eventually(async () =>
      (await deliver('/webhooks/xprizo/approval', event)).status === 200 ? true : undefined,
    );
    expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');

    // The provider repeats itself after the invoice ended: acknowledged, so it stops retrying.
    expect((await deliver('/webhooks/xprizo/approval', event)).status).toBe(200);
  });

  it('holds a webhook whose reference is not searchable yet, and delivers it once it is', async () => {
    const request = invoiceRequest({ provider: 'xprizo' });
    const event = { eventId: `held-${request.invoiceId}`, status: 'settled', transactionId: `tx-${request.invoiceId}` };
    // Sent before the invoice exists: the gateway keeps looking while the invoice starts and indexes the reference.
    const held = deliver('/webhooks/xprizo/approval', event);
    await env.invoices.startInvoice(request);
    expect((await held).status).toBe(200);
    expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');
  });

  it('answers a callback with the verdict, and gives no answer while the invoice has none', async () => {
    const request = invoiceRequest({
      provider: 'xprizo',
      direction: 'pay_out',
      approval: { required: true, approvers: ['ops@acme'], timeoutSeconds: 600 },
    });
    await env.invoices.startInvoice(request);
    await waitForStatus(env.invoices, request.invoiceId, 'SUBMITTED');
    // Xprizo's payment callback is its request for our approval of the held pay-out.
    const callback = { eventId: `cb-${request.invoiceId}`, status: 'approval_requested', invoiceId: request.invoiceId };

    // Undecided: the socket is dropped, which the provider takes as a timeout (never as a refusal).
    await expect(deliver('/webhooks/xprizo/payment', callback)).rejects.toThrow();
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');

    await env.invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' });
    const accepted = await deliver('/webhooks/xprizo/payment', { ...callback, eventId: `cb2-${request.invoiceId}` });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toEqual({ verdict: 'accept' });
  });
});
