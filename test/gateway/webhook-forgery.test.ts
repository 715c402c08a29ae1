import type { ProviderName } from '../../src/domain/constants';
import { parseInvoiceRequest } from '../../src/client';
import { createLogger } from '../../src/logger';
import { createProviders, PROVIDERS } from '../../src/providers';
import { alfredWebhookSecret } from '../../src/providers/alfred/client';
import { eventSignatureHeader } from '../../src/providers/alfred/webhook';
import { BitfinexClient } from '../../src/providers/bitfinex/client';
import { createInvoiceBody } from '../../src/providers/bitfinex/mapping';
import type { BitfinexInvoice } from '../../src/providers/bitfinex/schemas';
import { startSandboxes, type SandboxServer } from '../../src/providers/sandbox/server';
import { XprizoClient } from '../../src/providers/xprizo/client';
import { SANDBOX_CREDENTIALS as XPRIZO_SANDBOX, xprizoWebhookPath } from '../../src/providers/xprizo/constants';
import type { XprizoSandbox } from '../../src/providers/xprizo/sandbox';
import type { WebhookRoute } from '../../src/providers/types';
import { statusQuery, type InvoiceState } from '../../src/workflows/definitions';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest, uniqueId } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually, waitForStatus } from '../support/wait';
import { startTestGateway, type TestGateway } from './gateway-env';

/**
 * Forged and mismatched webhooks on the real provider routes, each naming an invoice of every provider. Whatever a
 * caller sends, the invoice must not move and the answer must be the one a nonexistent invoice gets, so the gateway
 * neither delivers a forgery nor tells a forger which invoices exist.
 */
describe('forged or mismatched provider webhooks', () => {
  const { registry, fakes } = fakeRegistry();
  // Every invoice holds every provider's reference keys, as if the providers' ids had collided: only the gateway's
  // provider checks can keep a webhook of one provider off another provider's invoice.
  for (const fake of Object.values(fakes)) {
    const submit = fake.submit;
    fake.submit = async (input) => {
      const result = await submit(input);
      const id = input.invoice.invoiceId;
      return {
        ...result,
        refs: {
          ...result.refs,
          alfredInvoiceId: `alf-${id}`,
          alfredTransactionId: `atx-${id}`,
          xprizoReference: id,
          bitfinexInvoiceId: `bfx-${id}`,
        },
      };
    };
  }
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'error' });
  let sandboxes: SandboxServer;
  let env: TestEnv;
  let gateway: TestGateway;
  let xprizo: XprizoClient;
  let bitfinex: BitfinexClient;
  const targets = {} as Record<ProviderName, string>;

  beforeAll(async () => {
    // Webhooks the sandboxes send go nowhere: only the requests below reach the gateway.
    sandboxes = await startSandboxes({
      port: 0,
      logger,
      webhookBaseUrl: 'http://127.0.0.1:9/webhooks',
      timeScale: 0.01,
    });
    // No polling while the test runs: an invoice's state changes only if a webhook reaches it.
    env = await startTestEnv({
      providers: registry,
      env: { SANDBOX_PORT: new URL(sandboxes.url).port },
      timing: { pollAfterSeconds: 3600, pollInitialIntervalSeconds: 60, pollMaxIntervalSeconds: 60 },
    });
    const routes: Partial<Record<ProviderName, readonly WebhookRoute[]>> = {};
    for (const definition of Object.values(PROVIDERS))
      if (definition.webhooks) routes[definition.name] = definition.webhooks;
    gateway = await startTestGateway(env, {
      providers: createProviders(env.config, logger),
      webhooks: routes,
      referenceWaitMs: 200,
      callbackWaitSeconds: 1,
    });
    xprizo = XprizoClient.fromConfig(env.config);
    bitfinex = BitfinexClient.fromConfig(env.config);
    for (const provider of ['alfred', 'payone', 'xprizo', 'bitfinex'] as const) {
      const request = invoiceRequest({ provider, paymentMethod: { type: 'wallet', walletAccountId: '2001' } });
      await env.invoices.startInvoice(request);
      targets[provider] = request.invoiceId;
    }
    for (const [provider, invoiceId] of Object.entries(targets)) {
      // Where each invoice waits for its provider: PayOne for the pre-authorization, the others for settlement.
      await waitForStatus(env.invoices, invoiceId, provider === 'payone' ? 'SUBMITTED' : 'AWAITING_SETTLEMENT');
      // Searchable, so a reference lookup that misses misses because of the provider filter, not indexing lag.
      await eventually(() => env.invoices.findInvoiceByProviderRef('alfredInvoiceId', `alf-${invoiceId}`));
    }
  });
  afterAll(async () => {
    await gateway?.close();
    await env?.stop();
    await sandboxes?.close();
  });

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const raw = JSON.stringify(body);
    const response = await fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: raw,
    });
    return { status: response.status, body: await response.text() };
  };

  // Provider-side objects, made once per reference: what a genuine webhook about that reference would be backed by.
  /** Amount at the providers: the Xprizo and Bitfinex invoices differ from theirs, so only the money check stops it. */
  const providerAmount = (invoiceId: string, provider: ProviderName) => (invoiceId === targets[provider] ? 9.99 : 125);
  const xprizoTx = async (reference: string) => {
    const sandbox = sandboxes.get<XprizoSandbox>('xprizo').sandbox;
    if (!sandbox.transaction(reference)) {
      await xprizo.requestPayment({
        fromAccountId: 2001,
        toAccountId: XPRIZO_SANDBOX.merchantAccountId,
        reference,
        amount: providerAmount(reference, 'xprizo'),
      });
      sandbox.acceptRequest(reference);
    }
    const tx = sandbox.transaction(reference);
    if (!tx) throw new Error('no sandbox transaction');
    return { id: tx.id, amount: providerAmount(reference, 'xprizo') };
  };
  const bitfinexInvoices = new Map<string, BitfinexInvoice>();
  const bitfinexInvoice = async (orderId: string) => {
    const known = bitfinexInvoices.get(orderId);
    if (known) return known;
    const amount = Math.round(providerAmount(orderId, 'bitfinex') * 100);
    const request = parseInvoiceRequest(invoiceRequest({ invoiceId: orderId, provider: 'bitfinex', amount }));
    const created = await bitfinex.createInvoice(createInvoiceBody(request));
    bitfinexInvoices.set(orderId, created);
    return created;
  };

  // The URL Xprizo is given, token and all: these forgers know it, so only the check with Xprizo's API stops them.
  const xprizoUrl = (which: 'approval' | 'payment') => {
    const token = env.config.providers.xprizo.webhookToken.current;
    if (!token) throw new Error('no Xprizo webhook token configured');
    return `/webhooks${xprizoWebhookPath(token, which)}`;
  };
  const alfredEvent = (reference: string, status = 'FAILED') =>
    JSON.stringify({
      referenceId: `atx-${reference}`,
      eventType: 'ONRAMP',
      status,
      metadata: { invoiceId: reference },
    });
  const approval = (statusType: number, transaction: Record<string, unknown>) => ({
    statusType,
    status: ['None', 'New', 'Accepted', 'Rejected', 'Cancelled'][statusType],
    transaction: { createdById: 2, type: 'URP', currencyCode: 'USD', ...transaction },
  });

  interface Answer {
    status: number;
    body: string;
  }
  interface Case {
    name: string;
    /** The request for an invoice id; the same request is made for a nonexistent id and must get the same answer. */
    send(invoiceId: string, target: ProviderName): Promise<Answer>;
  }
  const cases: Case[] = [
    {
      name: 'alfred: unsigned',
      send: (id) => post('/webhooks/alfred', JSON.parse(alfredEvent(`alf-${id}`)) as unknown),
    },
    {
      name: 'alfred: signed with another secret',
      send: async (id) => {
        const raw = alfredEvent(`alf-${id}`);
        return post('/webhooks/alfred', JSON.parse(raw) as unknown, {
          signature: eventSignatureHeader('not-the-secret', raw, Date.now()),
        });
      },
    },
    {
      // Correctly signed: alfred's own invoice is named by a reference of another invoice, every other provider's
      // invoice by its own alfred reference, which the alfred route must not reach.
      name: "alfred: signed, naming another invoice's or another provider's reference",
      send: async (id, target) => {
        const reference = target === 'alfred' && id === targets.alfred ? `alf-${targets.payone}` : `alf-${id}`;
        const raw = alfredEvent(reference);
        return post('/webhooks/alfred', JSON.parse(raw) as unknown, {
          signature: eventSignatureHeader(alfredWebhookSecret(env.config), raw, Date.now()),
        });
      },
    },
    {
      name: 'xprizo approval: Rejected without the URL token',
      send: (id) => post('/webhooks/xprizo/approval', approval(3, { id: 77, reference: id, amount: 125 })),
    },
    {
      name: 'xprizo approval: Rejected with a wrong URL token, presenting our API key',
      send: (id) =>
        post(
          `/webhooks${xprizoWebhookPath('intruder-guess-0123456789abcdef0123456789', 'approval')}`,
          approval(3, { id: 77, reference: id, amount: 125 }),
          { 'x-api-key': XPRIZO_SANDBOX.apiKey },
        ),
    },
    {
      name: 'xprizo approval: Rejected, the API says NotFound',
      send: (id) => post(xprizoUrl('approval'), approval(3, { id: 77, reference: id, amount: 125 })),
    },
    {
      name: 'xprizo payment callback: the API says NotFound',
      send: (id) => post(xprizoUrl('payment'), { id: 77, currencyCode: 'USD', amount: 125, reference: id }),
    },
    {
      name: 'xprizo payment callback: without the URL token',
      send: (id) => post('/webhooks/xprizo/payment', { id: 77, currencyCode: 'USD', amount: 125, reference: id }),
    },
    {
      name: 'xprizo approval: Cancelled while the API says Active',
      send: async (id) => {
        const tx = await xprizoTx(id);
        return post(xprizoUrl('approval'), approval(4, { id: tx.id, reference: id, amount: tx.amount }));
      },
    },
    {
      name: 'xprizo approval: Accepted for an amount the API does not hold',
      send: async (id) => {
        const tx = await xprizoTx(id);
        return post(xprizoUrl('approval'), approval(2, { id: tx.id, reference: id, amount: 1 }));
      },
    },
    {
      // Genuine at Xprizo, but about another provider's invoice or for other money than the invoice's.
      name: 'xprizo approval: Accepted as the API says, wrong provider or amount',
      send: async (id) => {
        const tx = await xprizoTx(id);
        return post(xprizoUrl('approval'), approval(2, { id: tx.id, reference: id, amount: tx.amount }));
      },
    },
    {
      name: 'xprizo payment callback: as the API says, wrong provider or amount',
      send: async (id) => {
        const tx = await xprizoTx(id);
        return post(xprizoUrl('payment'), { id: tx.id, currencyCode: 'USD', amount: tx.amount, reference: id });
      },
    },
    {
      name: 'bitfinex: an invoice the API does not know',
      send: (id) =>
        post('/webhooks/bitfinex', {
          id: `bfx-unknown-${id}`,
          t: Date.now(),
          amount: '125.00',
          currency: 'USD',
          orderId: id,
          payCurrencies: ['BTC'],
          status: 'EXPIRED',
        }),
    },
    {
      name: 'bitfinex: EXPIRED while the API says CREATED',
      send: async (id) => post('/webhooks/bitfinex', { ...(await bitfinexInvoice(id)), status: 'EXPIRED' }),
    },
    {
      name: 'bitfinex: as the API says, wrong provider or amount',
      send: async (id) => post('/webhooks/bitfinex', await bitfinexInvoice(id)),
    },
  ];

  const providerSignals = async (invoiceId: string) => {
    const history = await env.invoices.handle(invoiceId).fetchHistory();
    return (history.events ?? []).filter(
      (event) =>
        event.workflowExecutionSignaledEventAttributes?.signalName === 'providerEvent' ||
        event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'providerCallback',
    ).length;
  };
  const snapshot = async (invoiceId: string): Promise<{ state: InvoiceState; status: string | undefined }> => {
    const handle = env.invoices.handle(invoiceId);
    const description = await handle.describe();
    return { state: await handle.query(statusQuery), status: description.status.name };
  };

  it('leaves every invoice untouched and answers as for a nonexistent invoice', async () => {
    const before = new Map<string, Awaited<ReturnType<typeof snapshot>>>();
    for (const id of Object.values(targets)) before.set(id, await snapshot(id));

    const answers: { case: string; target: ProviderName; real: Answer; ghost: Answer }[] = [];
    for (const testCase of cases) {
      for (const target of Object.keys(targets) as ProviderName[]) {
        const real = await testCase.send(targets[target], target);
        const ghost = await testCase.send(uniqueId('ghost'), target);
        answers.push({ case: testCase.name, target, real, ghost });
      }
    }
    for (const { case: name, target, real, ghost } of answers) {
      expect({ name, target, answer: real }).toEqual({ name, target, answer: ghost });
      // A Bitfinex webhook only tells its invoice to look (without calling Bitfinex the gateway cannot tell a forgery
      // from a genuine one), so every one is acknowledged alike; the look finds the API's word, which moves nothing.
      const refused = name.startsWith('bitfinex:') ? real.status === 200 : real.status >= 400;
      expect({ name, target, status: refused }).toEqual({ name, target, status: true });
    }

    for (const [id, earlier] of before) {
      expect(await snapshot(id)).toEqual(earlier);
      expect(await providerSignals(id)).toBe(0);
    }
  });
});
