import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { PROVIDER_NAMES, type ProviderName } from '../domain/constants';
import { GATEWAY_METRICS } from '../domain/metric-names';

/** What a webhook request was answered, by meaning rather than by number, so a dashboard need not know the codes. */
export const WEBHOOK_RESULTS = [
  'accepted',
  'malformed',
  'refused',
  'unknown_invoice',
  'contradicted',
  'rate_limited',
  'unavailable',
  'error',
  'no_answer',
] as const;
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];

export function webhookResult(status: number): WebhookResult {
  if (status >= 200 && status < 300) return 'accepted';
  switch (status) {
    case 401:
      return 'refused';
    case 404:
      return 'unknown_invoice';
    case 422:
      return 'contradicted';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    default:
      return status >= 400 && status < 500 ? 'malformed' : 'error';
  }
}

/**
 * The gateway's own counters, in a registry of its own rather than prom-client's global one, so that two gateways in
 * one process (the tests run several) never count into each other.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly started = new Counter({
    name: GATEWAY_METRICS.invoicesStarted,
    help: 'Invoices created through this gateway, by provider; a repeated request is not counted again.',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });
  private readonly webhooks = new Counter({
    name: GATEWAY_METRICS.webhooks,
    help: 'Webhook requests by provider and the answer they got.',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  private readonly limited = new Counter({
    name: GATEWAY_METRICS.rateLimited,
    help: "Requests refused with 429 by the gateway's own limits, by scope (address or principal).",
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });

  /** `processMetrics`: Node's own (heap, event loop, GC); for the gateway's process, not for each test gateway. */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  invoiceStarted(provider: ProviderName): void {
    this.started.inc({ provider });
  }

  webhookAnswered(provider: ProviderName, result: WebhookResult): void {
    this.webhooks.inc({ provider, result });
  }

  rateLimited(scope: 'address' | 'principal'): void {
    this.limited.inc({ scope });
  }

  /**
   * `GET /metrics`, and the webhook count of every answered webhook request, whichever branch answered it (an error
   * thrown to the error handler included). A request given no answer on purpose is counted by its route instead.
   */
  register(app: FastifyInstance): void {
    // Plain Prometheus text for the scraper, not part of the service API: left out of the OpenAPI document.
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
      reply.header('content-type', this.registry.contentType).send(await this.registry.metrics()),
    );
    app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
      const provider = webhookProvider(request.routeOptions.url);
      if (provider) this.webhookAnswered(provider, webhookResult(reply.statusCode));
    });
  }
}

/** The provider of a webhook route pattern (`/webhooks/<provider>/...`); undefined for any other route. */
function webhookProvider(routeUrl: string | undefined): ProviderName | undefined {
  const name = /^\/webhooks\/([a-z]+)(?:\/|$)/.exec(routeUrl ?? '')?.[1];
  return PROVIDER_NAMES.find((provider) => provider === name);
}
