import { ApplicationFailure } from '@temporalio/common';
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
  /** The wait before retry `attempt` (1, 2, ...) of the webhooks that failed for a transient reason. */
  retryDelayMs?: (attempt: number) => number;
}

/** 5 s, 10 s, 20 s ... then every 5 minutes: Xprizo being down at our start must not leave webhooks off for a day. */
const DEFAULT_RETRY_DELAY_MS = (attempt: number): number => Math.min(5_000 * 2 ** (attempt - 1), 300_000);

export type XprizoRegistration =
  | { outcome: 'registered'; webhooks: readonly XprizoWebhook[] }
  | { outcome: 'skipped'; reason: string }
  | {
      outcome: 'failed';
      webhooks: readonly XprizoWebhook[];
      failed: readonly XprizoWebhook[];
      /**
       * Set when some failure was transient: the failed webhooks are retried in the background until Xprizo takes
       * them, and this resolves with that registration. A refusal (a URL Xprizo rejects) is not retried.
       */
      retrying?: Promise<XprizoRegistration>;
    };

/** Where Xprizo must send one of its webhooks: the gateway's route with the token before it. */
export function xprizoWebhookUrlAt(gatewayUrl: string, token: string, which: XprizoWebhook): string {
  return `${gatewayUrl.replace(/\/$/, '')}/webhooks${xprizoWebhookPath(token, which)}`;
}

/**
 * Tells Xprizo where our approval and payment webhooks go. Each worker does it at start: the calls set a URL, so
 * repeating them (every worker, every restart) leaves the same registration, and the URL follows a rotated token or a
 * moved gateway at the next start. A failure is logged and does not stop the worker: its other providers must run,
 * and the invoices it runs learn their outcome by polling meanwhile. A transient failure is retried in the background
 * on a growing interval until Xprizo takes the URL.
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
  const url = (which: XprizoWebhook) => xprizoWebhookUrlAt(gatewayUrl, token, which);
  const round = await registerEach(client, webhooks, url, logger);
  const registered = { gatewayUrl, path: '/webhooks/xprizo/<token>/{approval,payment}', form: options.form };
  if (round.failed.length === 0) {
    logger.info(registered, 'xprizo webhooks registered');
    return { outcome: 'registered', webhooks };
  }
  if (round.transient.length === 0) return { outcome: 'failed', webhooks, failed: round.failed };
  const delay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const retrying = (async (): Promise<XprizoRegistration> => {
    let pending = round.transient;
    for (let attempt = 1; ; attempt++) {
      // Unref'd: a worker that is shutting down is not held open by a registration still being retried.
      await new Promise((resolve) => setTimeout(resolve, delay(attempt)).unref());
      const again = await registerEach(client, pending, url, logger);
      if (again.failed.length === 0) {
        logger.info({ ...registered, attempt }, 'xprizo webhooks registered on retry');
        return { outcome: 'registered', webhooks };
      }
      if (again.transient.length === 0) return { outcome: 'failed', webhooks, failed: again.failed };
      pending = again.transient;
    }
  })();
  return { outcome: 'failed', webhooks, failed: round.failed, retrying };
}

/** One call per webhook; which failed, and which of those may succeed when asked again. */
async function registerEach(
  client: Pick<XprizoClient, 'setApprovalWebhook' | 'setPaymentWebhook'>,
  webhooks: readonly XprizoWebhook[],
  url: (which: XprizoWebhook) => string,
  logger: Logger,
): Promise<{ failed: XprizoWebhook[]; transient: XprizoWebhook[] }> {
  const failed: XprizoWebhook[] = [];
  const transient: XprizoWebhook[] = [];
  for (const which of webhooks) {
    try {
      await client[OPERATIONS[which]](url(which));
    } catch (error) {
      failed.push(which);
      // A refusal (ProviderRejected) is final: the same URL would be refused again.
      if (!(error instanceof ApplicationFailure && error.nonRetryable)) transient.push(which);
      // The URL holds the token, so only its pattern is logged.
      logger.error(
        { webhook: which, err: error instanceof Error ? error.message : String(error) },
        'xprizo webhook not registered: invoices rely on polling until it is',
      );
    }
  }
  return { failed, transient };
}
