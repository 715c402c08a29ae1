import type { Config } from '../../config';
import type { ProviderDefinition, WebhookRoute } from '../types';
import { createBitfinexAdapter } from './adapter';
import { BitfinexClient } from './client';
import { refuseSandboxFallbackInProduction } from '../sandbox/kit';
import { BitfinexSandbox } from './sandbox';
import { verifyBitfinexWebhook } from './webhook';
import { bitfinexRequirements } from './requirements';

// One client per configuration: Bitfinex nonces must keep increasing for a key, which a client guarantees only for
// its own calls.
const clients = new WeakMap<Config, BitfinexClient>();
function clientFor(config: Config): BitfinexClient {
  refuseSandboxFallbackInProduction(config, 'bitfinex', config.providers.bitfinex);
  let client = clients.get(config);
  if (!client) clients.set(config, (client = BitfinexClient.fromConfig(config)));
  return client;
}

/** What a refused caller is told when the API does not back its claim. */
export const NOT_CONFIRMED = 'not confirmed by the Bitfinex API';

/** Bitfinex signs nothing: the body is believed only when the invoice fetched from the API agrees with it. */
const webhook: WebhookRoute = {
  path: '',
  delivery: 'signal',
  async verify(incoming, { config }) {
    const result = await verifyBitfinexWebhook(incoming.body, clientFor(config));
    if (!result.ok) {
      if (result.reason.startsWith('not a Bitfinex')) return { ok: false, status: 400, reason: result.reason };
      // Unknown id or any disagreement: one answer, so a forger learns nothing about which invoices exist.
      return { ok: false, status: 422, reason: NOT_CONFIRMED, logReason: result.reason };
    }
    return { ok: true, event: result.event, invoice: { invoiceId: result.invoiceId } };
  },
  answer: () => ({ status: 200, body: { ok: true } }),
};

export const bitfinex: ProviderDefinition = {
  name: 'bitfinex',
  directions: ['pay_in'],
  requirements: bitfinexRequirements,
  plan: () => ({
    kyc: false,
    paymentMethod: false,
    bank: false,
    approveAtProvider: false,
    complete: false,
    settledAt: 'settled',
  }),
  create: ({ config }) => {
    refuseSandboxFallbackInProduction(config, 'bitfinex', config.providers.bitfinex);
    return createBitfinexAdapter(BitfinexClient.fromConfig(config));
  },
  sandbox: (context) => new BitfinexSandbox(context),
  webhooks: [webhook],
};
