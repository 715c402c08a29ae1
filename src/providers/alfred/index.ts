import type { Config } from '../../config';
import type { IncomingWebhook, ProviderDefinition, WebhookRoute, WebhookVerdict } from '../types';
import { createAlfredAdapter } from './adapter';
import { AlfredClient, alfredClientOptions, alfredWebhookSecret } from './client';
import { refuseSandboxFallbackInProduction } from '../sandbox/kit';
import { AlfredSandbox } from './sandbox';
import { alfredWebhookToEvent, verifyAlfredWebhook } from './webhook';
import { alfredFacts } from './facts';

function verdict(incoming: IncomingWebhook, config: Config, now: number): WebhookVerdict {
  if (config.env === 'production' && !config.providers.alfred.webhookSecret) {
    // The fallback is the sandbox's published secret: anyone could sign with it.
    return {
      ok: false,
      status: 401,
      reason: 'bad signature',
      logReason: 'ALFRED_WEBHOOK_SECRET is unset in production',
    };
  }
  const result = verifyAlfredWebhook({
    rawBody: incoming.rawBody,
    headers: incoming.headers,
    secret: alfredWebhookSecret(config),
    now,
  });
  if (!result.ok) return { ok: false, status: result.reason === 'malformed' ? 400 : 401, reason: result.reason };
  const event = alfredWebhookToEvent(result.event);
  if (!event?.ref) return { ok: 'ignored', reason: 'the webhook concerns no invoice (KYC or KYB)' };
  // alfred re-sends the same signed webhook after any non-2xx (Temporal down, an invoice not searchable yet), so a
  // repeat is not refused here: until it is delivered it must land. The gateway remembers the signature once the
  // event is delivered and acknowledges later repeats (alfred's, or an attacker's copy) without delivering again.
  return { ok: true, event, invoice: { providerRef: event.ref }, replayKey: result.replayKey };
}

/**
 * Both webhook schemes arrive on one URL (alfred's customer webhook and the newer event webhook). Neither carries our
 * invoice id: the approval request names alfred's invoice (refs.alfredInvoiceId), the event carries it in
 * metadata.invoiceId, else only the transaction id (refs.alfredTransactionId).
 */
const webhook: WebhookRoute = {
  path: '',
  delivery: 'signal',
  verify(incoming, { config, now }) {
    return Promise.resolve(verdict(incoming, config, (now ?? Date.now)()));
  },
  // alfred's newer docs expect this body; any 4xx/5xx makes it retry.
  answer: () => ({ status: 200, body: { message: 'success' } }),
};

export const alfred: ProviderDefinition = {
  ...alfredFacts,
  create: ({ config }) => {
    refuseSandboxFallbackInProduction(config, 'alfred', config.providers.alfred);
    return createAlfredAdapter(new AlfredClient(alfredClientOptions(config)));
  },
  sandbox: (context) => new AlfredSandbox(context),
  webhooks: [webhook],
};
