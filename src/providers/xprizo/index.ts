import type { Config } from '../../config';
import type { ProviderDefinition, WebhookRoute, WebhookVerdict } from '../types';
import { createXprizoAdapter } from './adapter';
import { XprizoClient, xprizoOptionsFromConfig } from './client';
import { refuseSandboxFallbackInProduction } from '../sandbox/kit';
import { XprizoSandbox } from './sandbox';
import {
  SENDER_KEY_REFUSED,
  verifyXprizoApprovalWebhook,
  verifyXprizoPaymentCallback,
  type XprizoVerification,
} from './webhook';
import { xprizoRequirements } from './requirements';

const clients = new WeakMap<Config, XprizoClient>();
function clientFor(config: Config): XprizoClient {
  refuseSandboxFallbackInProduction(config, 'xprizo', config.providers.xprizo);
  let client = clients.get(config);
  if (!client) clients.set(config, (client = XprizoClient.fromConfig(config)));
  return client;
}

/** What a refused caller is told when the API does not back its claim, whatever the particular disagreement. */
export const NOT_CONFIRMED = 'not confirmed by the Xprizo API';

function toVerdict(result: XprizoVerification): WebhookVerdict {
  if (!result.ok) {
    if (result.reason.startsWith('not an Xprizo')) return { ok: false, status: 400, reason: result.reason };
    if (result.reason === SENDER_KEY_REFUSED) return { ok: false, status: 401, reason: result.reason };
    // Unmatchable, unknown to the API, another status or other money: one answer, so that a forger cannot tell an
    // invoice that exists from one that does not, nor which field gave it away.
    return { ok: false, status: 422, reason: NOT_CONFIRMED, logReason: result.reason };
  }
  if (result.ignore) return { ok: 'ignored', reason: result.reason };
  return { ok: true, event: result.event, invoice: { invoiceId: result.invoiceId } };
}

/** Both routes check the sender's key and ask the API before believing the body. */
function verifiedBy(
  verify: typeof verifyXprizoApprovalWebhook | typeof verifyXprizoPaymentCallback,
): WebhookRoute['verify'] {
  return async (incoming, { config }) => {
    const expectedApiKey = xprizoOptionsFromConfig(config).apiKey;
    return toVerdict(await verify(incoming.body, incoming.headers, clientFor(config), { expectedApiKey }));
  };
}

/** Xprizo expects 200 with {"status":"success"}; the answer to a payment callback is the verdict itself. */
const SUCCESS = { status: 200, body: { status: 'success' } };

const approvalWebhook: WebhookRoute = {
  path: '/approval',
  delivery: 'signal',
  verify: verifiedBy(verifyXprizoApprovalWebhook),
  answer: () => SUCCESS,
};

const paymentCallback: WebhookRoute = {
  path: '/payment',
  delivery: 'callback',
  verify: verifiedBy(verifyXprizoPaymentCallback),
  // 200 releases the hold; any other answer voids it; no answer at all (status 0: the gateway drops the connection)
  // makes Xprizo call again later, which is what an invoice still waiting for its approval needs.
  answer: (verdict) => {
    if (verdict === 'accept') return SUCCESS;
    if (verdict === 'reject') return { status: 409, body: { status: 'rejected' } };
    return { status: 0, body: undefined };
  },
};

export const xprizo: ProviderDefinition = {
  name: 'xprizo',
  directions: ['pay_in', 'pay_out'],
  requirements: xprizoRequirements,
  plan: (direction) => ({
    kyc: false,
    paymentMethod: false,
    bank: false,
    // Pay-out is sent with a hold: Xprizo's payment callback waits for our verdict before the money moves.
    awaitBeforeApproval: direction === 'pay_out' ? 'approval_requested' : undefined,
    approveAtProvider: false,
    complete: false,
    settledAt: 'settled',
  }),
  create: ({ config }) => {
    refuseSandboxFallbackInProduction(config, 'xprizo', config.providers.xprizo);
    return createXprizoAdapter(XprizoClient.fromConfig(config));
  },
  sandbox: (context) => new XprizoSandbox(context),
  webhooks: [approvalWebhook, paymentCallback],
};
