import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { InvoiceClient } from '../client';
import type { Config } from '../config';
import type { ProviderName } from '../domain/constants';
import type { Logger } from '../logger';
import { sameBytes } from '../providers/same-bytes';
import type { InvoiceLookup, ProviderRegistry, WebhookRoute, WebhookVerdict } from '../providers/types';
import {
  ALREADY_ANSWERED,
  providerCallbackUpdate,
  providerEventSignal,
  providerLookSignal,
  searchAttributes,
  type CallbackVerdict,
  type ProviderEvent,
} from '../workflows/definitions';
import type { GatewayMetrics } from './metrics';
import { DELIVERED_MAX_ENTRIES, DELIVERED_TTL_MS, DeliveredEvents } from './delivered-events';
import { isTemporalUnavailable, problem, sendProblem } from './problem';
import { NO_AUTH, problemResponse } from './documentation';

export type WebhookRoutes = Partial<Record<ProviderName, readonly WebhookRoute[]>>;

export interface WebhookDeps {
  invoices: InvoiceClient;
  providers: ProviderRegistry;
  config: Config;
  logger: Logger;
  routes: WebhookRoutes;
  /** How long a callback waits for the invoice's verdict; below the provider's own timeout. */
  callbackWaitSeconds: number;
  /** Runs a Temporal call under a deadline, so an outage answers 503 rather than holding the provider's connection. */
  withDeadline: <T>(ms: number, call: () => Promise<T>) => Promise<T>;
  deadlineMs: number;
  /** How long a reference not yet searchable is looked for again before the answer is 404 (see config). */
  referenceWaitMs: number;
  /** Events delivered lately; one per gateway unless a test shares or inspects it. */
  delivered?: DeliveredEvents;
  /** The clock signatures' ages and the delivered-event memory go by; a test's fake clock, else Date.now. */
  now?: () => number;
  /** Counts the requests left unanswered on purpose; answered ones are counted where every response is. */
  metrics?: GatewayMetrics;
}

/** The route's URL path; with `token` (a value, or `:token` for the route pattern) the token segment comes first. */
export function webhookUrlPath(provider: ProviderName, route: WebhookRoute, token?: string): string {
  return `/webhooks/${provider}${token === undefined ? '' : `/${token}`}${route.path}`;
}

/**
 * Whether `presented` is one of the accepted tokens. Every one is compared, each in constant time, so the answer's
 * timing says nothing about how much of which token matched.
 */
export function acceptedToken(presented: string | undefined, accepted: readonly string[]): boolean {
  if (presented === undefined) return false;
  const bytes = Buffer.from(presented);
  let found = false;
  for (const token of accepted) found = sameBytes(bytes, Buffer.from(token)) || found;
  return found;
}

/**
 * Refuses a request to a tokened route whose URL lacks an accepted token. It runs as onRequest, before the body is
 * read: an outsider costs us no parse, no provider call and no Temporal call. The bare path, mounted only so that a
 * caller without the token is told 401 rather than 404, has no token parameter and is always refused.
 */
function urlTokenCheck(accepted: readonly string[], log: Logger) {
  const check: onRequestHookHandler = (request, reply, done) => {
    const presented = (request.params as Record<string, string | undefined>).token;
    if (acceptedToken(presented, accepted)) {
      done();
      return;
    }
    // Neither the token presented nor the body is logged: the first may be a near-miss of ours, the second is unread.
    log.warn(
      { requestId: request.id, tokenPresented: presented !== undefined },
      'webhook refused: URL token missing or wrong',
    );
    void sendProblem(reply, problem(401, 'WebhookRefused', 'webhook not authenticated'));
  };
  return check;
}

function headerRecord(request: FastifyRequest): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

type HandlerDeps = WebhookDeps & { delivered: DeliveredEvents; now: () => number };

type Found = { invoiceId: string } | { unknown: string };

/**
 * The one answer for "no such invoice here": an unknown id, an unknown reference, an invoice of another provider and
 * an invoice whose money differs all get it, byte for byte, so a caller cannot probe which invoices exist.
 */
function sendInvoiceNotFound(reply: FastifyReply): FastifyReply {
  return sendProblem(reply, problem(404, 'InvoiceNotFound', 'no invoice for this webhook'));
}

/**
 * The verdict an earlier answer to this callback gave, when the workflow's validator refused the callback as already
 * answered (`AlreadyAnswered: accept|reject`); undefined for any other failure.
 */
export function alreadyAnsweredVerdict(error: unknown): Exclude<CallbackVerdict['verdict'], 'undecided'> | undefined {
  if (!(error instanceof WorkflowUpdateFailedError)) return undefined;
  const message = error.cause?.message ?? error.message;
  if (!message.startsWith(`${ALREADY_ANSWERED}:`)) return undefined;
  const verdict = message
    .slice(ALREADY_ANSWERED.length + 1)
    .trim()
    .split(/\s/, 1)[0];
  return verdict === 'accept' || verdict === 'reject' ? verdict : undefined;
}

type Ownership = { ok: true } | { ok: false; mismatch: 'provider' | 'amount' | 'currency' };

/**
 * Whether the invoice is one this route's provider may speak for: its `PaymentProvider` must be the route's, and money
 * the event states must be the invoice's. Search attributes are read rather than the workflow's state because they
 * are there for an invoice no worker has picked up and for one that has ended. Throws WorkflowNotFoundError for an
 * unknown invoice, which the caller answers the same way as a mismatch.
 */
async function checkOwnership(
  invoiceId: string,
  provider: ProviderName,
  event: ProviderEvent,
  deps: WebhookDeps,
): Promise<Ownership> {
  const description = await deps.withDeadline(deps.deadlineMs, () => deps.invoices.handle(invoiceId).describe());
  const attributes = description.typedSearchAttributes;
  if (attributes.get(searchAttributes.provider) !== provider) return { ok: false, mismatch: 'provider' };
  if (event.money) {
    // Missing attributes count as a mismatch: a check that cannot be made must not pass.
    if (attributes.get(searchAttributes.currency) !== event.money.currency) return { ok: false, mismatch: 'currency' };
    if (attributes.get(searchAttributes.amount) !== event.money.amount) return { ok: false, mismatch: 'amount' };
  }
  return { ok: true };
}

const DELIVERY: Record<WebhookRoute['delivery'], string> = {
  signal: 'the verified event is handed to the invoice',
  callback: 'the invoice decides, and the answer carries its verdict',
  look: 'the webhook proves nothing: the invoice is told to fetch its own object from the provider',
};

/**
 * What the document says of a webhook route. No body schema: the signature is checked over the raw bytes first, and
 * the provider's own format is read by its adapter, so nothing is refused before it is authenticated.
 */
function webhookRouteOptions(provider: ProviderName, route: WebhookRoute, token: boolean) {
  return {
    schema: {
      summary: `${provider} webhook: ${DELIVERY[route.delivery]}`,
      description:
        'Called by the provider, in its own format. Answered 2xx only once Temporal holds the event; anything else ' +
        'makes the provider retry.',
      tags: ['webhooks'],
      security: [...NO_AUTH],
      ...(token
        ? { params: z.object({ token: z.string().describe('The secret URL segment registered with the provider') }) }
        : {}),
      response: {
        '2xx': {
          description: 'Delivered; the body is the acknowledgement the provider expects',
          content: { 'application/json': { schema: z.unknown() } },
        },
        401: problemResponse('WebhookRefused: the signature, or the URL token, does not authenticate the webhook'),
        404: problemResponse('InvoiceNotFound: no invoice of this provider for this webhook'),
        503: problemResponse('VerificationUnavailable or TemporalUnavailable: retry'),
      },
    },
  };
}

/**
 * Mounts `POST /webhooks/<provider><path>` for each route: verify, find the invoice, hand the event to its workflow,
 * and answer 2xx only once Temporal holds it, so that anything short of that makes the provider retry.
 */
export function registerWebhooks(parent: FastifyInstance, deps: WebhookDeps): void {
  // In a plugin with the zod compilers of its own, so the routes' schemas work wherever they are mounted.
  parent.register((app, _options, registered) => {
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    const now = deps.now ?? Date.now;
    const withMemory: HandlerDeps = {
      ...deps,
      now,
      delivered: deps.delivered ?? new DeliveredEvents(DELIVERED_TTL_MS, DELIVERED_MAX_ENTRIES, now),
    };
    for (const [provider, routes] of Object.entries(deps.routes) as [ProviderName, readonly WebhookRoute[]][]) {
      for (const route of routes) {
        // The configuration is frozen, so the accepted tokens are read once, not on every request.
        const urlTokens = route.urlTokens?.(deps.config);
        const url = webhookUrlPath(provider, route, urlTokens ? ':token' : undefined);
        const log = deps.logger.child({ component: 'webhook', provider, route: url });
        const handler = async (request: FastifyRequest, reply: FastifyReply) => {
          const answered = await handleWebhook(provider, route, request, reply, withMemory, log);
          // A dropped connection never reaches the response hooks, so it is counted here.
          if (reply.raw.destroyed && !reply.raw.writableFinished) deps.metrics?.webhookAnswered(provider, 'no_answer');
          return answered;
        };
        if (!urlTokens) {
          app.post(url, webhookRouteOptions(provider, route, false), handler);
          continue;
        }
        const onRequest = urlTokenCheck(urlTokens, log);
        // Fastify logs each request's URL, which here holds the secret: the route's pattern is logged instead.
        const logSerializers = {
          req: (request: FastifyRequest) => ({ method: request.method, url, remoteAddress: request.ip }),
        };
        app.post(url, { onRequest, logSerializers, ...webhookRouteOptions(provider, route, true) }, handler);
        // Only ever answers 401 (the token is missing): not a route to document.
        app.post(
          webhookUrlPath(provider, route),
          {
            onRequest,
            schema: { hide: true, response: { 401: problemResponse('No URL token') } },
          },
          handler,
        );
      }
    }
    registered();
  });
}

/**
 * A provider may call back the moment our call to it returns, before the workflow's record of that call is searchable.
 * Such a webhook is held and the reference looked up again on a short, growing interval for up to `referenceWaitMs`,
 * so the event arrives within milliseconds of the reference becoming searchable instead of at the provider's next
 * retry, which may be minutes away. Only after that is the answer 404, and the provider retries.
 */
async function findInvoice(lookup: InvoiceLookup, provider: ProviderName, deps: WebhookDeps): Promise<Found> {
  if ('invoiceId' in lookup) return { invoiceId: lookup.invoiceId };
  const { key, value } = lookup.providerRef;
  const giveUpAt = Date.now() + deps.referenceWaitMs;
  for (let pauseMs = 25; ; pauseMs *= 2) {
    const invoiceId = await deps.withDeadline(deps.deadlineMs, () =>
      deps.invoices.findInvoiceByProviderRef(key, value, provider),
    );
    if (invoiceId) return { invoiceId };
    const left = giveUpAt - Date.now();
    if (left <= 0) return { unknown: `no invoice holds the provider reference ${key}` };
    await new Promise((resolve) => setTimeout(resolve, Math.min(pauseMs, left)));
  }
}

async function handleWebhook(
  provider: ProviderName,
  route: WebhookRoute,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: HandlerDeps,
  log: Logger,
): Promise<FastifyReply | undefined> {
  let verdict: WebhookVerdict;
  try {
    verdict = await route.verify(
      { rawBody: request.rawBody ?? '', body: request.body, headers: headerRecord(request) },
      {
        adapter: deps.providers[provider],
        config: deps.config,
        now: deps.now,
        findInvoiceByProviderRef: (key, value) =>
          deps.withDeadline(deps.deadlineMs, () => deps.invoices.findInvoiceByProviderRef(key, value, provider)),
      },
    );
  } catch (error) {
    // Verification that asks the provider's API could not finish (the provider is down or slow): nothing is known
    // yet, so the provider must try again. A callback gets no answer at all, since any refusal would void it.
    log.warn(
      { reason: error instanceof Error ? error.message : String(error), requestId: request.id },
      'webhook not verified yet',
    );
    if (route.delivery === 'callback') return answer(reply, route.answer('undecided'));
    void reply.header('retry-after', '5');
    return sendProblem(reply, problem(503, 'VerificationUnavailable', 'the webhook could not be verified yet; retry'));
  }
  if (verdict.ok === 'ignored') {
    log.info({ reason: verdict.reason, requestId: request.id }, 'webhook acknowledged, nothing to deliver');
    return answer(reply, route.answer('delivered'));
  }
  if (!verdict.ok) {
    // The reasons are the verifier's own words (never the body or a header value): enough to debug a misconfiguration.
    log.warn(
      { status: verdict.status, reason: verdict.reason, detail: verdict.logReason, requestId: request.id },
      'webhook refused',
    );
    return sendProblem(reply, problem(verdict.status, 'WebhookRefused', verdict.reason));
  }
  // The gateway, not the verifier, states who speaks: a route can only ever deliver its own provider's events.
  const event: ProviderEvent = { ...verdict.event, provider };
  if (route.delivery === 'look') return deliverLook(provider, route, verdict.invoice, event, request, reply, deps, log);
  const { delivered } = deps;
  const deliveredKey = DeliveredEvents.key(provider, event.eventId);
  const replayKey =
    verdict.replayKey === undefined ? undefined : DeliveredEvents.key(provider, `replay:${verdict.replayKey}`);
  // A provider's retry of a delivery we acknowledged (the answer was lost) and an attacker's replay of a captured one
  // are the same bytes: both get the acknowledgement that stops the provider retrying, neither is delivered again.
  if (route.delivery === 'signal' && (delivered.has(deliveredKey) || (replayKey && delivered.has(replayKey)))) {
    log.info({ eventId: event.eventId, requestId: request.id }, 'webhook repeated: delivered already');
    return answer(reply, route.answer('delivered'));
  }
  try {
    const found = await findInvoice(verdict.invoice, provider, deps);
    if ('unknown' in found) {
      log.info({ eventId: event.eventId, requestId: request.id }, found.unknown);
      return sendInvoiceNotFound(reply);
    }
    const ownership = await checkOwnership(found.invoiceId, provider, event, deps);
    if (!ownership.ok) {
      // Nothing from the body is logged: this is what a forgery looks like, and its contents are the forger's.
      log.warn({ mismatch: ownership.mismatch, requestId: request.id }, 'webhook names an invoice it has no say over');
      return sendInvoiceNotFound(reply);
    }
    const eventLog = log.child({ invoiceId: found.invoiceId, eventId: event.eventId, status: event.status });
    if (route.delivery === 'signal') {
      const outcome = await deliverSignal(found.invoiceId, event, deps);
      if (outcome === 'ended') {
        eventLog.info('webhook for an invoice that has ended: nothing left to change');
      } else {
        delivered.remember(deliveredKey);
        if (replayKey) delivered.remember(replayKey);
        eventLog.info('webhook delivered');
      }
      return answer(reply, route.answer('delivered'));
    }
    let given: CallbackVerdict['verdict'];
    try {
      const outcome = await deps.withDeadline((deps.callbackWaitSeconds + 5) * 1000, () =>
        deps.invoices
          .handle(found.invoiceId)
          .executeUpdate(providerCallbackUpdate, { args: [{ ...event, waitSeconds: deps.callbackWaitSeconds }] }),
      );
      eventLog.info({ verdict: outcome.verdict, invoiceStatus: outcome.status }, 'callback answered');
      given = outcome.verdict;
    } catch (error) {
      // The provider asks again about a callback the invoice has answered: it gets that same answer again, never a
      // fresh one, since the first may already have moved the money.
      const earlier = alreadyAnsweredVerdict(error);
      if (!earlier) throw error;
      eventLog.info({ verdict: earlier }, 'callback answered again, as before');
      given = earlier;
    }
    return answer(reply, route.answer(given));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) {
      log.info({ eventId: event.eventId, requestId: request.id }, 'webhook for an unknown or ended invoice');
      return sendInvoiceNotFound(reply);
    }
    if (route.delivery === 'callback' && isTemporalUnavailable(error)) {
      // A callback provider may treat any error status as a refusal (Xprizo voids the payment): we have no verdict,
      // so the route answers as for an undecided one.
      log.warn({ err: error, eventId: event.eventId }, 'callback undecided: Temporal unavailable');
      return answer(reply, route.answer('undecided'));
    }
    throw error;
  }
}

/**
 * Signals an invoice that the ownership check has just described, so it exists: a WorkflowNotFoundError now can only
 * mean it has ended, and an invoice that has ended can no longer change, so acknowledging stops the provider's retries.
 */
async function deliverSignal(
  invoiceId: string,
  event: ProviderEvent,
  deps: WebhookDeps,
): Promise<'delivered' | 'ended'> {
  try {
    // The signal call resolves once the server has written the signal to the invoice's history: durably accepted.
    await deps.withDeadline(deps.deadlineMs, () => deps.invoices.handle(invoiceId).signal(providerEventSignal, event));
    return 'delivered';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return 'ended';
    throw error;
  }
}

/**
 * A webhook the gateway cannot verify without calling the provider (Bitfinex's): the invoice is told to look, and its
 * workflow fetches the provider's object through the rate-limited queue, so the gateway never calls the provider and
 * holds no key of it. Nothing in the body is believed, so whatever the invoice (unknown, another provider's, ended,
 * told already), the answer is the same 2xx once Temporal holds the signal: a caller learns nothing about which
 * invoices exist. Only an outage answers otherwise, so that the provider tries again.
 */
async function deliverLook(
  provider: ProviderName,
  route: WebhookRoute,
  lookup: InvoiceLookup,
  event: ProviderEvent,
  request: FastifyRequest,
  reply: FastifyReply,
  deps: HandlerDeps,
  log: Logger,
): Promise<FastifyReply> {
  const key = DeliveredEvents.key(provider, `look:${event.eventId}`);
  if (deps.delivered.has(key)) return answer(reply, route.answer('delivered'));
  try {
    const found = await findInvoice(lookup, provider, deps);
    // The claimed money is not checked: the look fetches the real one, and the invoice compares that.
    const owned =
      'invoiceId' in found &&
      (await checkOwnership(found.invoiceId, provider, { ...event, money: undefined }, deps)).ok;
    if ('invoiceId' in found && owned) {
      await deps.withDeadline(deps.deadlineMs, () =>
        deps.invoices.handle(found.invoiceId).signal(providerLookSignal, { provider, hint: event.status }),
      );
      deps.delivered.remember(key);
      log.info(
        { invoiceId: found.invoiceId, requestId: request.id, hint: event.status },
        'webhook: invoice told to look',
      );
    } else {
      log.info({ requestId: request.id }, 'webhook names no invoice of this provider: acknowledged, nothing told');
    }
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    log.info({ requestId: request.id }, 'webhook for an unknown or ended invoice: acknowledged, nothing told');
  }
  return answer(reply, route.answer('delivered'));
}

/** Status 0 means "give no answer": the connection is dropped, which the provider sees as a timeout and retries. */
function answer(reply: FastifyReply, { status, body }: { status: number; body: unknown }): FastifyReply {
  if (status === 0) {
    reply.hijack();
    reply.raw.destroy();
    return reply;
  }
  return reply.status(status).send(body);
}
