import type { Logger } from '../../logger';
import type { XprizoClient } from './client';
import { xprizoWebhookPath, type XprizoWebhook, type XprizoWebhookUrlForm } from './constants';

/** The two Preference calls registration makes, by the webhook each one names. */
const OPERATIONS = { approval: 'setApprovalWebhook', payment: 'setPaymentWebhook' } as const;

export interface XprizoRegistrationOptions {
  /** The gateway as Xprizo reaches it (GATEWAY_PUBLIC_URL, or the dev stack's local address); unset: skipped. */
  gatewayUrl?: string;
  /** The URL token the gateway accepts; unset (production without XPRIZO_WEBHOOK_TOKEN): skipped. */
  token?: string;
  form: XprizoWebhookUrlForm;
}

export type XprizoRegistration =
  | { outcome: 'registered'; webhooks: readonly XprizoWebhook[] }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'failed'; webhooks: readonly XprizoWebhook[]; failed: readonly XprizoWebhook[] };

/** Where Xprizo must send one of its webhooks: the gateway's route with the token before it. */
export function xprizoWebhookUrlAt(gatewayUrl: string, token: string, which: XprizoWebhook): string {
  return `${gatewayUrl.replace(/\/$/, '')}/webhooks${xprizoWebhookPath(token, which)}`;
}

/**
 * Tells Xprizo where our approval and payment webhooks go. Each worker does it at start: the calls set a URL, so
 * repeating them (every worker, every restart) leaves the same registration, and the URL follows a rotated token or a
 * moved gateway at the next start. A failure is logged and does not stop the worker: its other providers must run,
 * and the invoices it runs learn their outcome by polling until a later start registers the URLs.
 */
export async function registerXprizoWebhooks(
  client: Pick<XprizoClient, 'setApprovalWebhook' | 'setPaymentWebhook'>,
  options: XprizoRegistrationOptions,
  logger: Logger,
): Promise<XprizoRegistration> {
  const { gatewayUrl, token } = options;
  if (!gatewayUrl) {
    const reason = 'no public gateway URL (GATEWAY_PUBLIC_URL): Xprizo will not call us, invoices rely on polling';
    logger.warn(reason);
    return { outcome: 'skipped', reason };
  }
  if (!token) {
    const reason = 'no XPRIZO_WEBHOOK_TOKEN: the gateway would refuse every Xprizo webhook, so none is registered';
    logger.warn(reason);
    return { outcome: 'skipped', reason };
  }
  const webhooks = Object.keys(OPERATIONS) as XprizoWebhook[];
  const failed: XprizoWebhook[] = [];
  for (const which of webhooks) {
    try {
      await client[OPERATIONS[which]](xprizoWebhookUrlAt(gatewayUrl, token, which));
    } catch (error) {
      failed.push(which);
      // The URL holds the token, so only its pattern is logged.
      logger.error(
        { webhook: which, err: error instanceof Error ? error.message : String(error) },
        'xprizo webhook not registered: invoices rely on polling until a worker registers it',
      );
    }
  }
  const registered = { gatewayUrl, path: '/webhooks/xprizo/<token>/{approval,payment}', form: options.form };
  if (failed.length > 0) return { outcome: 'failed', webhooks, failed };
  logger.info(registered, 'xprizo webhooks registered');
  return { outcome: 'registered', webhooks };
}
