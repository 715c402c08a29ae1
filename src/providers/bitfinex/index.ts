import type { ProviderDefinition, WebhookRoute } from '../types';
import { createBitfinexAdapter } from './adapter';
import { BitfinexClient } from './client';
import { refuseSandboxFallbackInProduction } from '../sandbox/kit';
import { BitfinexSandbox } from './sandbox';
import { readBitfinexWebhook } from './webhook';
import { bitfinexFacts } from './facts';

/**
 * Bitfinex signs nothing, and the gateway calls no Bitfinex API (only the worker holds the key, so one process signs
 * its nonces): a well-formed webhook just tells its invoice to look (see `deliverLook`).
 */
const webhook: WebhookRoute = {
  path: '',
  delivery: 'look',
  verify(incoming) {
    const read = readBitfinexWebhook(incoming.body);
    if (!read.ok) return Promise.resolve({ ok: false, status: 400, reason: read.reason });
    return Promise.resolve({ ok: true, event: read.event, invoice: { invoiceId: read.invoiceId } });
  },
  answer: () => ({ status: 200, body: { ok: true } }),
};

export const bitfinex: ProviderDefinition = {
  ...bitfinexFacts,
  create: ({ config }) => {
    refuseSandboxFallbackInProduction(config, 'bitfinex', config.providers.bitfinex);
    return createBitfinexAdapter(BitfinexClient.fromConfig(config));
  },
  sandbox: (context) => new BitfinexSandbox(context),
  webhooks: [webhook],
};
