import type { Config } from '../../config';
import type { ProviderDefinition, WebhookRoute, WebhookVerdict } from '../types';
import { createXprizoAdapter, XPRIZO_REFS } from './adapter';
import { XprizoClient } from './client';
import { XPRIZO_WEBHOOK_ROUTES, type XprizoWebhook } from './constants';
import { refuseSandboxFallbackInProduction } from '../sandbox/kit';
import { XprizoSandbox } from './sandbox';
import { verifyXprizoApprovalWebhook, verifyXprizoPaymentCallback, type XprizoVerification } from './webhook';
import { xprizoFacts } from './facts';
import { xprizoReference } from './mapping';
import { registerXprizoWebhooks, xprizoWebhookUrlAt } from './registration';

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
    // Unmatchable, unknown to the API, another status or other money: one answer, so that a forger cannot tell an
    // invoice that exists from one that does not, nor which field gave it away.
    return { ok: false, status: 422, reason: NOT_CONFIRMED, logReason: result.reason };
  }
  if (result.ignore) return { ok: 'ignored', reason: result.reason };
  return { ok: true, event: result.event, invoice: { invoiceId: result.invoiceId } };
}

/** Both routes ask the API before believing the body (the gateway has checked the URL's token before that). */
function verifiedBy(verify: typeof verifyXprizoPaymentCallback): WebhookRoute['verify'] {
  return async (incoming, { config }) => toVerdict(await verify(incoming.body, clientFor(config)));
}

/**
 * The approval webhook may name its transaction by id alone (`"reference": null`, as seed 002's Accepted sample does).
 * The id is the key SendPayment or RequestPayment gave us, which the workflow keeps among its refs and indexes
 * (ProviderReferences), so the invoice is found in Temporal's visibility: durable, shared by every gateway, and
 * searched among Xprizo's invoices only. UNCONFIRMED: that Xprizo's transaction id and the key it answers are one.
 */
const verifyApproval: WebhookRoute['verify'] = async (incoming, { config, findInvoiceByProviderRef }) => {
  const referenceForTransactionId = findInvoiceByProviderRef
    ? async (transactionId: string) => {
        const invoiceId = await findInvoiceByProviderRef(XPRIZO_REFS.transactionKey, transactionId);
        return invoiceId === undefined ? undefined : xprizoReference(invoiceId);
      }
    : undefined;
  return toVerdict(await verifyXprizoApprovalWebhook(incoming.body, clientFor(config), { referenceForTransactionId }));
};

/**
 * Xprizo signs nothing, and a header it would send is not documented: the one secret its calls can carry is the URL
 * we register, so the URL holds a per-deployment token (XPRIZO_WEBHOOK_TOKEN; every listed one is accepted while a
 * rotation is under way). No longer is our own outgoing API key, which moves money, compared with anything a caller
 * sends.
 */
const urlTokens = (config: Config): readonly string[] => config.providers.xprizo.webhookToken.accepted;

/**
 * The URL to register with Xprizo (SetApprovalWebhook, SetPaymentWebhook) for this deployment: the gateway's public
 * URL and the current token. Undefined when there is no token (production without XPRIZO_WEBHOOK_TOKEN).
 */
export function xprizoWebhookUrl(config: Config, which: XprizoWebhook): string | undefined {
  const token = config.providers.xprizo.webhookToken.current;
  return token === undefined ? undefined : xprizoWebhookUrlAt(config.gateway.url, token, which);
}

/** Xprizo expects 200 with {"status":"success"}; the answer to a payment callback is the verdict itself. */
const SUCCESS = { status: 200, body: { status: 'success' } };

const approvalWebhook: WebhookRoute = {
  path: XPRIZO_WEBHOOK_ROUTES.approval,
  delivery: 'signal',
  urlTokens,
  verify: verifyApproval,
  answer: () => SUCCESS,
};

const paymentCallback: WebhookRoute = {
  path: XPRIZO_WEBHOOK_ROUTES.payment,
  delivery: 'callback',
  urlTokens,
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
  ...xprizoFacts,
  create: ({ config }) => {
    refuseSandboxFallbackInProduction(config, 'xprizo', config.providers.xprizo);
    return createXprizoAdapter(XprizoClient.fromConfig(config));
  },
  sandbox: (context) => new XprizoSandbox(context),
  webhooks: [approvalWebhook, paymentCallback],
  async onWorkerStart({ config, logger, gatewayUrl }) {
    const xprizo = config.providers.xprizo;
    await registerXprizoWebhooks(
      clientFor(config),
      { gatewayUrl, token: xprizo.webhookToken.current, form: xprizo.webhookUrlForm },
      logger,
    );
  },
};
