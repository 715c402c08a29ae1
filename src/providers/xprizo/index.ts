import type { Config } from '../../config';
import type { ProviderDefinition, WebhookRoute, WebhookVerdict } from '../types';
import { createXprizoAdapter } from './adapter';
import { XprizoClient, xprizoOptionsFromConfig } from './client';
import { XprizoSandbox } from './sandbox';
import { verifyXprizoApprovalWebhook, verifyXprizoPaymentCallback, type XprizoVerification } from './webhook';
import { xprizoRequirements } from './requirements';

const clients = new WeakMap<Config, XprizoClient>();
function clientFor(config: Config): XprizoClient {
  let client = clients.get(config);
  if (!client) clients.set(config, (client = XprizoClient.fromConfig(config)));
  return client;
}

function toVerdict(result: XprizoVerification): WebhookVerdict {
  if (!result.ok) {
    // A body we cannot read is malformed; anything else is a claim the API (or the sender key) contradicts.
    const malformed = result.reason.startsWith('not an Xprizo');
    return { ok: false, status: malformed ? 400 : result.reason === 'unmatchable' ? 422 : 401, reason: result.reason };
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
  create: ({ config }) => createXprizoAdapter(XprizoClient.fromConfig(config)),
  sandbox: (context) => new XprizoSandbox(context),
  webhooks: [approvalWebhook, paymentCallback],
};
