import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import type { InvoiceClient } from '../../src/client';
import { parseInvoiceRequest } from '../../src/client';
import type { ProviderName } from '../../src/domain/constants';
import { DeliveredEvents } from '../../src/gateway/delivered-events';
import { registerWebhooks, type WebhookRoutes } from '../../src/gateway/webhooks';
import { createLogger } from '../../src/logger';
import { createProviders, PROVIDERS } from '../../src/providers';
import { alfredWebhookSecret } from '../../src/providers/alfred/client';
import { formatLegacyDate } from '../../src/providers/alfred/mapping';
import { ALFRED_RETRY_HORIZON_MS, legacySignature } from '../../src/providers/alfred/webhook';
import { BitfinexClient } from '../../src/providers/bitfinex/client';
import { createInvoiceBody } from '../../src/providers/bitfinex/mapping';
import type { BitfinexSandbox } from '../../src/providers/bitfinex/sandbox';
import { startSandboxes, type SandboxServer } from '../../src/providers/sandbox/server';
import { SANDBOX_CREDENTIALS as XPRIZO_SANDBOX, xprizoWebhookPath } from '../../src/providers/xprizo/constants';
import { xprizoWebhookUrl } from '../../src/providers/xprizo';
import type { XprizoSandbox } from '../../src/providers/xprizo/sandbox';
import { statusQuery } from '../../src/workflows/definitions';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest, uniqueId } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually, waitForStatus } from '../support/wait';

/**
 * How each provider's webhooks are authenticated at the door: Xprizo's by the secret token in the URL (before
 * anything else happens), alfred's by a signature accepted across alfred's whole retry horizon and never delivered
 * twice, Bitfinex's by fetching the invoice, PayOne's not at all since it has no webhook. The clock is the test's, so
 * "an hour later" and "a day later" take no time.
 */
describe('inbound provider authentication', () => {
  // Two tokens: a rotation in progress. The first is registered with Xprizo, both are accepted.
  const CURRENT = 'current-token-0123456789abcdef0123456789abcdef';
  const PREVIOUS = 'previous-token-0123456789abcdef0123456789abcd';
  const { registry, fakes } = fakeRegistry();
  // Bitfinex invoices made at the sandbox before our invoice starts, by our invoice id: the fake submit hands their ids
  // on as refs, as the real submit would.
  const bitfinexIds = new Map<string, string>();
  const submit = fakes.bitfinex.submit;
  fakes.bitfinex.submit = async (input) => {
    const result = await submit(input);
    const id = bitfinexIds.get(input.invoice.invoiceId);
    return id ? { ...result, refs: { ...result.refs, bitfinexInvoiceId: id } } : result;
  };
  // alfred's webhooks name only alfred's invoice id, which its submit hands back.
  const alfredSubmit = fakes.alfred.submit;
  fakes.alfred.submit = async (input) => {
    const result = await alfredSubmit(input);
    return { ...result, refs: { ...result.refs, alfredInvoiceId: `alf-${input.invoice.invoiceId}` } };
  };

  let sandboxes: SandboxServer;
  let env: TestEnv;
  let app: FastifyInstance;
  let url: string;
  let now = Date.now();
  const logLines: string[] = [];
  /** Every call the gateway makes to Temporal through the client library. */
  const temporalCalls: string[] = [];

  beforeAll(async () => {
    // Webhooks the sandboxes send go nowhere: only the requests below reach the gateway.
    sandboxes = await startSandboxes({
      port: 0,
      logger: createLogger({ level: 'silent' }),
      webhookBaseUrl: 'http://127.0.0.1:9/webhooks',
      timeScale: 0.01,
    });
    env = await startTestEnv({
      providers: registry,
      env: { SANDBOX_PORT: new URL(sandboxes.url).port, XPRIZO_WEBHOOK_TOKEN: `${CURRENT}, ${PREVIOUS}` },
      timing: { pollAfterSeconds: 3600, pollInitialIntervalSeconds: 60, pollMaxIntervalSeconds: 60 },
    });
    const counted: InvoiceClient = {
      ...env.invoices,
      handle: (invoiceId) => {
        temporalCalls.push(`handle ${invoiceId}`);
        return env.invoices.handle(invoiceId);
      },
      findInvoiceByProviderRef: (key, value, provider) => {
        temporalCalls.push(`find ${key}`);
        return env.invoices.findInvoiceByProviderRef(key, value, provider);
      },
    };
    const logger = createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
    // The gateway's webhook ingress as buildGateway mounts it (same routes, same raw-body JSON parser), with the
    // test's clock, which buildGateway does not take.
    app = Fastify({ loggerInstance: logger }) as unknown as FastifyInstance;
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const raw = typeof body === 'string' ? body : body.toString('utf8');
      request.rawBody = raw;
      try {
        done(null, raw.trim() === '' ? undefined : (JSON.parse(raw) as unknown));
      } catch {
        done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined);
      }
    });
    const routes: WebhookRoutes = {};
    for (const definition of Object.values(PROVIDERS)) {
      if (definition.webhooks) routes[definition.name] = definition.webhooks;
    }
    const clock = () => now;
    registerWebhooks(app, {
      invoices: counted,
      providers: createProviders(env.config, logger),
      config: env.config,
      logger,
      routes,
      callbackWaitSeconds: 1,
      withDeadline: (_ms, call) => call(),
      deadlineMs: 5_000,
      referenceWaitMs: 50,
      now: clock,
      delivered: new DeliveredEvents(undefined, undefined, clock),
    });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await env?.stop();
    await sandboxes?.close();
  });

  const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), body: text, detail: detailOf(text) };
  };
  const detailOf = (text: string): unknown => {
    try {
      return (JSON.parse(text) as { detail?: unknown }).detail;
    } catch {
      return undefined;
    }
  };
  const providerSignals = async (invoiceId: string) => {
    const history = await env.invoices.handle(invoiceId).fetchHistory();
    return (history.events ?? []).filter(
      (event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'providerEvent',
    ).length;
  };

  describe('Xprizo: the URL token', () => {
    const xprizo = () => sandboxes.get<XprizoSandbox>('xprizo');
    const statusCalls = () => xprizo().counter.total('statusByReference');
    const approvalBody = (reference: string) =>
      JSON.stringify({
        statusType: 3,
        status: 'Rejected',
        transaction: { id: 77, reference, currencyCode: 'USD', amount: 125, type: 'URP', createdById: 2 },
      });

    it('refuses a webhook without the token, or with a wrong one, 401 before the body is read', async () => {
      const reference = uniqueId('xp');
      const before = { status: statusCalls(), temporal: temporalCalls.length };
      const attempts = [
        // The URLs of the old design, even presenting our outgoing API key as the old check wanted.
        post('/webhooks/xprizo/approval', approvalBody(reference), { 'x-api-key': XPRIZO_SANDBOX.apiKey }),
        post('/webhooks/xprizo/payment', JSON.stringify({ id: 77, currencyCode: 'USD', amount: 1, reference })),
        post(
          `/webhooks${xprizoWebhookPath('wrong-token-0123456789abcdef0123456789ab', 'approval')}`,
          approvalBody(reference),
        ),
        // One character off, and a prefix of the real token.
        post(`/webhooks${xprizoWebhookPath(`${CURRENT.slice(0, -1)}x`, 'approval')}`, approvalBody(reference)),
        post(`/webhooks${xprizoWebhookPath(CURRENT.slice(0, 20), 'payment')}`, approvalBody(reference)),
        // Not even JSON: a 400 would mean the body had been parsed before the token was checked.
        post(`/webhooks${xprizoWebhookPath('wrong-token-0123456789abcdef0123456789ab', 'approval')}`, '{not json'),
      ];
      for (const answer of await Promise.all(attempts)) {
        expect(answer.status).toBe(401);
        expect(answer.type).toMatch(/^application\/problem\+json/);
        expect(JSON.parse(answer.body)).toMatchObject({ status: 401, type: 'WebhookRefused' });
      }
      // No question to Xprizo, no Temporal call.
      expect({ status: statusCalls(), temporal: temporalCalls.length }).toEqual(before);
    });

    it('lets every listed token through to the check with the API, and never logs a token', async () => {
      const before = statusCalls();
      for (const token of [CURRENT, PREVIOUS]) {
        const reference = uniqueId('xp');
        const answer = await post(`/webhooks${xprizoWebhookPath(token, 'approval')}`, approvalBody(reference));
        // Past the door: the API knows no such transaction, so the claim is not confirmed.
        expect(answer.status).toBe(422);
        expect(xprizo().counter.get('statusByReference', reference)).toBe(1);
      }
      expect(statusCalls()).toBe(before + 2);
      // The URL to register is the current token's; fastify's request log shows the route's pattern instead.
      expect(xprizoWebhookUrl(env.config, 'approval')).toBe(
        `${env.config.gateway.url}/webhooks/xprizo/${CURRENT}/approval`,
      );
      const logs = logLines.join('');
      expect(logs).toContain('/webhooks/xprizo/:token/approval');
      expect(logs).not.toContain(CURRENT);
      expect(logs).not.toContain(PREVIOUS);
      expect(logs).not.toContain(CURRENT.slice(0, 20));
    });
  });

  describe('alfred: signatures across the retry horizon, delivered once', () => {
    const secret = () => alfredWebhookSecret(env.config);
    const legacy = (alfredInvoiceId: string, signedAt: number, signWith = secret()) => {
      const date = formatLegacyDate(signedAt);
      return JSON.stringify({
        invoices: alfredInvoiceId,
        date_invoices: date,
        signature_invoices: legacySignature(signWith, date, alfredInvoiceId),
      });
    };

    it("accepts alfred's eleventh retry an hour after the first, once; later repeats get 200 and no delivery", async () => {
      const request = invoiceRequest({ provider: 'alfred', direction: 'pay_out' });
      const alfredInvoiceId = `alf-${request.invoiceId}`;
      const first = now;
      // alfred signs once and re-sends the same bytes: attempt k (0 the first) on a doubling backoff whose eleventh
      // retry falls an hour after the first attempt.
      const webhook = legacy(alfredInvoiceId, first);
      const attemptAt = (k: number) => first + Math.round((3_600_000 * (2 ** k - 1)) / (2 ** 11 - 1));

      // The first attempt and ten retries find no invoice (ours has not reached alfred's approval request yet):
      // 404, which alfred retries, and nothing is delivered.
      for (let k = 0; k <= 10; k++) {
        now = attemptAt(k);
        expect((await post('/webhooks/alfred', webhook)).status).toBe(404);
      }
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'SUBMITTED');
      await eventually(() => env.invoices.findInvoiceByProviderRef('alfredInvoiceId', alfredInvoiceId, 'alfred'));

      // The eleventh retry, an hour after the first: a 5-minute window would refuse it as stale.
      now = attemptAt(11);
      expect(now - first).toBe(3_600_000);
      const accepted = await post('/webhooks/alfred', webhook);
      expect(accepted.status).toBe(200);
      expect(JSON.parse(accepted.body)).toEqual({ message: 'success' });
      await waitForStatus(env.invoices, request.invoiceId, (state) => state.eventsApplied === 1);

      // alfred did not hear our 200 and retries; or someone replays the captured request, up to 23 h later: 200,
      // so alfred stops, answered from memory without a Temporal call, and never delivered again.
      const callsBefore = temporalCalls.length;
      for (const later of [1, 2, 23]) {
        now = first + later * 3_600_000;
        expect((await post('/webhooks/alfred', webhook)).status).toBe(200);
      }
      expect(temporalCalls.length).toBe(callsBefore);
      expect(await providerSignals(request.invoiceId)).toBe(1);
      expect((await env.invoices.handle(request.invoiceId).query(statusQuery)).eventsApplied).toBe(1);

      // Past the horizon the same bytes are stale: refused, still without a Temporal call.
      now = first + ALFRED_RETRY_HORIZON_MS + 60_000;
      const stale = await post('/webhooks/alfred', webhook);
      expect(stale.status).toBe(401);
      expect(stale.detail).toBe('stale');
      expect(temporalCalls.length).toBe(callsBefore);
      expect(await providerSignals(request.invoiceId)).toBe(1);
    });

    it('refuses a forged, a tampered and a stale delivery before any Temporal call', async () => {
      const request = invoiceRequest({ provider: 'alfred', direction: 'pay_out' });
      const alfredInvoiceId = `alf-${request.invoiceId}`;
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'SUBMITTED');
      const callsBefore = temporalCalls.length;

      const forged = legacy(alfredInvoiceId, now, Buffer.from('not the secret').toString('base64'));
      const genuine = JSON.parse(legacy(`alf-${uniqueId('other')}`, now)) as Record<string, string>;
      const tampered = JSON.stringify({ ...genuine, invoices: alfredInvoiceId });
      // Never delivered, signed by alfred a day and a minute ago: older than any retry of alfred's.
      const stale = legacy(alfredInvoiceId, now - ALFRED_RETRY_HORIZON_MS - 60_000);
      const answers = [forged, tampered, stale].map((body) => post('/webhooks/alfred', body));
      expect((await Promise.all(answers)).map((answer) => [answer.status, answer.detail])).toEqual([
        [401, 'bad_signature'],
        [401, 'bad_signature'],
        [401, 'stale'],
      ]);
      expect(temporalCalls.length).toBe(callsBefore);
      expect(await providerSignals(request.invoiceId)).toBe(0);
    });
  });

  describe('Bitfinex: a webhook only makes the invoice look at the API', () => {
    it('whatever the body claims, the invoice is told to look once per claim and acts on the API alone', async () => {
      const bitfinex = BitfinexClient.fromConfig(env.config);
      const request = invoiceRequest({ provider: 'bitfinex' });
      const created = await bitfinex.createInvoice(createInvoiceBody(parseInvoiceRequest(request)));
      bitfinexIds.set(request.invoiceId, created.id);
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
      const signals = async (name: string) =>
        ((await env.invoices.handle(request.invoiceId).fetchHistory()).events ?? []).filter(
          (event) => event.workflowExecutionSignaledEventAttributes?.signalName === name,
        ).length;
      const fetches = () =>
        fakes.bitfinex.calls.filter((c) => c.invoiceId === request.invoiceId && c.step === 'fetchStatus').length;
      const requestsBefore = sandboxes.get<BitfinexSandbox>('bitfinex').sandbox.requestCount;

      // A claim of COMPLETED while the API says the invoice is open: the invoice looks, and stays where it was.
      const claimsCompleted = JSON.stringify({ ...created, status: 'COMPLETED' });
      expect((await post('/webhooks/bitfinex', claimsCompleted)).status).toBe(200);
      await eventually(() => (fetches() >= 1 ? true : undefined));
      expect((await env.invoices.handle(request.invoiceId).query(statusQuery)).status).toBe('AWAITING_SETTLEMENT');
      // The same webhook again (Bitfinex's retry, or a replay) is acknowledged from memory: no second look.
      expect((await post('/webhooks/bitfinex', claimsCompleted)).status).toBe(200);
      expect(await signals('providerLook')).toBe(1);
      // Once the API says the money arrived, the next webhook's look completes the invoice, whatever that one claims.
      fakes.bitfinex.statuses.set(request.invoiceId, 'settled');
      expect((await post('/webhooks/bitfinex', JSON.stringify({ ...created, status: 'EXPIRED' }))).status).toBe(200);
      expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');
      expect(await signals('providerLook')).toBe(2);
      expect(await providerSignals(request.invoiceId)).toBe(0);
      // The gateway itself asked Bitfinex nothing: only the worker holds the key.
      expect(sandboxes.get<BitfinexSandbox>('bitfinex').sandbox.requestCount).toBe(requestsBefore);
    });
  });

  describe('PayOne: no webhook to forge or replay', () => {
    it('has no webhook route: anything posted there reaches nothing, and its state comes from polling', async () => {
      const callsBefore = temporalCalls.length;
      const answer = await post('/webhooks/payone', JSON.stringify({ invoiceID: 'inv_1', status: 'CAPTURED' }));
      expect(answer.status).toBe(404);
      expect(temporalCalls.length).toBe(callsBefore);
      expect(PROVIDERS.payone.webhooks ?? []).toHaveLength(0);
    });
  });

  it('mounts the tokened Xprizo routes and the bare ones (to refuse them), and alfred, Bitfinex as before', () => {
    const printed = app.printRoutes({ commonPrefix: false });
    for (const provider of ['alfred', 'bitfinex'] as ProviderName[]) expect(printed).toContain(`/webhooks/${provider}`);
    expect(printed).toContain('/webhooks/xprizo/:token/approval (POST)');
    expect(printed).toContain('/webhooks/xprizo/:token/payment (POST)');
    expect(printed).toContain('/webhooks/xprizo/approval (POST)');
  });
});
