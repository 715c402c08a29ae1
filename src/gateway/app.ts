import rateLimit from '@fastify/rate-limit';
import type { Span } from '@opentelemetry/api';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { hasRole, type AccessRegistry, type Principal, type Role } from '../access/principals';
import { scopedInvoiceClient, type InvoiceClient, type StartedInvoice } from '../client';
import type { Config } from '../config';
import { isFinalStatus, type ProviderName } from '../domain/constants';
import type { Logger } from '../logger';
import { payloadCodec } from '../temporal/codec';
import { PROVIDERS } from '../providers';
import type { ProviderRegistry, WebhookRoute } from '../providers/types';
import { initialInvoiceState, type InvoiceState } from '../workflows/definitions';
import { accessFromConfig } from './auth';
import { registerCodecServer } from './codec-server';
import { SpanKind, traced } from '../telemetry/tracing';
import { GatewayMetrics } from './metrics';
import { buildOpenApiDocument } from './openapi';
import { isTemporalUnavailable, problem, problemFor, sendProblem, zodProblem } from './problem';
import {
  DecisionBodySchema,
  ForceCompleteBodySchema,
  InvoiceIdParamsSchema,
  ListInvoicesQuerySchema,
  ResolutionBodySchema,
} from './schemas';
import { registerWebhooks, type WebhookRoutes } from './webhooks';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received: webhook signatures are computed over these bytes, not over re-serialized JSON. */
    rawBody?: string;
    /** The caller of the service API, once its key was recognised. */
    principal?: Principal;
  }
}

export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024;

export interface GatewayDeps {
  invoices: InvoiceClient;
  /** Provider adapters, handed to webhook verifiers (some verify by asking the provider's API). */
  providers: ProviderRegistry;
  config: Config;
  logger: Logger;
  /** True when Temporal answers. */
  temporalHealth: () => Promise<boolean>;
  /** True when a worker polls the invoices task queue. */
  workerHealth?: () => Promise<boolean>;
  /** The principals whose keys are accepted; default the keys document the configuration names. */
  access?: AccessRegistry;
  /** Webhook routes per provider; default: those the provider definitions declare. */
  webhooks?: WebhookRoutes;
  bodyLimitBytes?: number;
  /** Deadline of one Temporal call made for a request. */
  temporalDeadlineMs?: number;
  /** How long a provider callback waits for the invoice's verdict. */
  callbackWaitSeconds?: number;
  /** Overrides `GATEWAY_REFERENCE_WAIT_MS`. */
  referenceWaitMs?: number;
  /** The counters served at `GET /metrics`; default a registry of this gateway's own. */
  metrics?: GatewayMetrics;
}

function tooManyRequests(reply: FastifyReply, retryAfterSeconds: number, who: string): FastifyReply {
  reply.header('Retry-After', String(Math.max(1, retryAfterSeconds)));
  return sendProblem(reply, problem(429, 'TooManyRequests', `too many requests from ${who}; retry later`));
}

function declaredWebhooks(): WebhookRoutes {
  const routes: Partial<Record<ProviderName, readonly WebhookRoute[]>> = {};
  for (const definition of Object.values(PROVIDERS)) {
    if (definition.webhooks?.length) routes[definition.name] = definition.webhooks;
  }
  return routes;
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> | z.ZodError {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : parsed.error;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The HTTP gateway: service API under `/v1` (bearer keys), provider webhooks under `/webhooks`, health and the OpenAPI
 * document. Returned unstarted, so tests can `inject` or listen on port 0.
 */
export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const { config, logger } = deps;
  const metrics = deps.metrics ?? new GatewayMetrics();
  // Providers name an invoice by its full key, whatever tenant it belongs to: webhooks use a client of no tenant, and
  // each service request one of its caller's tenant (see `authorized`).
  const invoices = deps.invoices.tenant
    ? scopedInvoiceClient(deps.invoices, { tenant: undefined, principal: undefined })
    : deps.invoices;
  const access = deps.access ?? accessFromConfig(config);
  const bodyLimit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const deadlineMs = deps.temporalDeadlineMs ?? 10_000;
  // The gateway's calls go through the client library; its connection carries per-call deadlines.
  const connection = invoices.handle('deadline').client.connection;
  const withDeadline = <T>(ms: number, call: () => Promise<T>): Promise<T> =>
    connection.withDeadline(Date.now() + ms, call);

  const app = Fastify({
    loggerInstance: logger.child({ component: 'gateway' }),
    bodyLimit,
    // Providers may retry slowly on a dropped connection; a stuck client should not hold a socket for ever.
    requestTimeout: 120_000,
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const raw = typeof body === 'string' ? body : body.toString('utf8');
    request.rawBody = raw;
    if (raw.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(raw) as unknown);
    } catch {
      done(
        Object.assign(new Error('the body is not valid JSON'), { statusCode: 400, code: 'MalformedJson' }),
        undefined,
      );
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const body = problemFor(error);
    if (body.status >= 500) {
      request.log.error({ err: error, temporalUnavailable: isTemporalUnavailable(error) }, 'request failed');
    }
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, 'NotFound', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );

  // One limiter store for the whole gateway; the limits themselves are made below, per address and per principal.
  app.register(rateLimit, { global: false });
  metrics.register(app);
  let byAddress: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  app.addHook('onRequest', async (request, reply) => {
    // Health checks and scrapes come from the platform itself, at its own pace.
    if (request.url === '/healthz' || request.url === '/readyz' || request.url === '/metrics') return;
    byAddress ??= app.createRateLimit({
      max: config.gateway.rateLimitPerAddress,
      timeWindow: 60_000,
      keyGenerator: (r) => `address:${r.ip}`,
    });
    const limit = await byAddress(request);
    if (!limit.isAllowed && limit.isExceeded) {
      metrics.rateLimited('address');
      return tooManyRequests(reply, limit.ttlInSeconds, 'this address');
    }
  });

  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const [temporal, worker] = await Promise.all([
      deps.temporalHealth().catch(() => false),
      deps.workerHealth ? deps.workerHealth().catch(() => false) : Promise.resolve(undefined),
    ]);
    const ready = temporal && worker !== false;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', temporal, worker });
  });
  const openApi = buildOpenApiDocument(config.gateway.publicUrl);
  app.get('/openapi.json', (_request, reply) => reply.send(openApi));

  app.register(
    (api, _options, registered) => {
      const byPrincipal = api.createRateLimit({
        max: config.gateway.rateLimitPerKey,
        timeWindow: 60_000,
        keyGenerator: (r) => `principal:${r.principal?.id ?? r.ip}`,
      });
      // onRequest runs before the body is read: an unauthenticated caller cannot make us parse anything.
      api.addHook('onRequest', async (request, reply) => {
        const principal = access.authenticate(request.headers.authorization);
        if (!principal) {
          reply.header('WWW-Authenticate', 'Bearer');
          return sendProblem(
            reply,
            problem(401, 'Unauthorized', 'a valid API key is required (Authorization: Bearer)'),
          );
        }
        request.principal = principal;
        const limit = await byPrincipal(request);
        if (!limit.isAllowed && limit.isExceeded) {
          metrics.rateLimited('principal');
          return tooManyRequests(reply, limit.ttlInSeconds, 'this key');
        }
      });

      api.post('/invoices', (request: FastifyRequest, reply: FastifyReply) =>
        traced(
          'POST /v1/invoices',
          {
            kind: SpanKind.SERVER,
            attributes: { 'http.request.method': 'POST', 'http.route': '/v1/invoices' },
            parent: request.headers,
          },
          async (span) => {
            await createInvoice(request, reply, span);
            span.setAttribute('http.response.status_code', reply.statusCode);
            return reply;
          },
        ),
      );

      async function createInvoice(request: FastifyRequest, reply: FastifyReply, span: Span): Promise<FastifyReply> {
        const caller = authorized(request, reply, 'invoices:create');
        if (!caller) return reply;
        const body = request.body;
        const idempotencyKey = request.headers['idempotency-key'];
        let input: unknown = body;
        if (typeof idempotencyKey === 'string' && isRecord(body)) {
          if (body.invoiceId === undefined) input = { ...body, invoiceId: idempotencyKey };
          else if (body.invoiceId !== idempotencyKey) {
            return sendProblem(
              reply,
              problem(400, 'ValidationError', 'the Idempotency-Key header and the body name different invoices', [
                { path: 'invoiceId', message: 'must equal the Idempotency-Key header' },
              ]),
            );
          }
        }
        const started = await withDeadline(deadlineMs, () =>
          caller.invoices.startInvoice(input, { createdBy: caller.principal.id }),
        );
        if (started.created) metrics.invoiceStarted(started.request.provider);
        span.setAttributes({ 'payment.invoice_id': started.invoiceId, 'payment.provider': started.request.provider });
        const state = await currentState(caller.invoices, started);
        return reply
          .status(started.created ? 201 : 200)
          .header('Location', `/v1/invoices/${started.invoiceId}`)
          .send(state);
      }

      api.get('/invoices', async (request, reply) => {
        const caller = authorized(request, reply, 'invoices:read');
        if (!caller) return reply;
        const query = parse(ListInvoicesQuerySchema, request.query);
        if (query instanceof Error) return sendProblem(reply, zodProblem(query, 'invalid query parameters'));
        const { pageToken, ...filter } = query;
        const page = await withDeadline(deadlineMs, () =>
          caller.invoices.listInvoices({ ...filter, nextPageToken: pageToken }),
        );
        return page;
      });

      api.get('/invoices/:invoiceId', async (request, reply) => {
        const caller = authorized(request, reply, 'invoices:read');
        if (!caller) return reply;
        const params = parse(InvoiceIdParamsSchema, request.params);
        if (params instanceof Error) return sendProblem(reply, zodProblem(params, 'invalid invoice id'));
        return withDeadline(deadlineMs, () => caller.invoices.getInvoice(params.invoiceId));
      });

      const decisions = {
        approve: { role: 'invoices:approve', decide: (c: InvoiceClient) => c.approveInvoice },
        reject: { role: 'invoices:approve', decide: (c: InvoiceClient) => c.rejectInvoice },
        cancel: { role: 'invoices:cancel', decide: (c: InvoiceClient) => c.cancelInvoice },
      } as const;
      for (const [action, { role, decide }] of Object.entries(decisions)) {
        api.post(`/invoices/:invoiceId/${action}`, async (request, reply: FastifyReply) => {
          const caller = authorized(request, reply, role);
          if (!caller) return reply;
          const params = parse(InvoiceIdParamsSchema, request.params);
          if (params instanceof Error) return sendProblem(reply, zodProblem(params, 'invalid invoice id'));
          const decision = parse(DecisionBodySchema, request.body ?? {});
          if (decision instanceof Error) return sendProblem(reply, zodProblem(decision, `invalid ${action} decision`));
          if (impersonates(decision.by, caller.principal, reply)) return reply;
          return withDeadline(deadlineMs, () =>
            decide(caller.invoices)(params.invoiceId, { by: caller.principal.id, reason: decision.reason }),
          );
        });
      }
      api.post('/invoices/:invoiceId/resolve', async (request, reply: FastifyReply) => {
        // Resolving says what happened to money at the provider: an operator's word, not a service's.
        const caller = authorized(request, reply, 'admin');
        if (!caller) return reply;
        const params = parse(InvoiceIdParamsSchema, request.params);
        if (params instanceof Error) return sendProblem(reply, zodProblem(params, 'invalid invoice id'));
        const resolution = parse(ResolutionBodySchema, request.body);
        if (resolution instanceof Error) return sendProblem(reply, zodProblem(resolution, 'invalid resolution'));
        if (impersonates(resolution.by, caller.principal, reply)) return reply;
        return withDeadline(deadlineMs, () =>
          caller.invoices.resolveInvoice(params.invoiceId, { ...resolution, by: caller.principal.id }),
        );
      });
      api.post('/invoices/:invoiceId/complete', async (request, reply: FastifyReply) => {
        // Completing by hand vouches that the payment arrived: the word of one who may approve.
        const caller = authorized(request, reply, 'invoices:approve');
        if (!caller) return reply;
        const params = parse(InvoiceIdParamsSchema, request.params);
        if (params instanceof Error) return sendProblem(reply, zodProblem(params, 'invalid invoice id'));
        const completion = parse(ForceCompleteBodySchema, request.body ?? {});
        if (completion instanceof Error) return sendProblem(reply, zodProblem(completion, 'invalid completion'));
        if (impersonates(completion.by, caller.principal, reply)) return reply;
        // Half the deadline to wait: the rest is for reading the state of a completion still on its way (202).
        const state = await withDeadline(deadlineMs, () =>
          caller.invoices.forceCompleteInvoice(
            params.invoiceId,
            { ...completion, by: caller.principal.id },
            { waitMs: deadlineMs / 2 },
          ),
        );
        return isFinalStatus(state.status) ? state : reply.code(202).send(state);
      });
      registered();
    },
    { prefix: '/v1' },
  );

  registerCodecServer(app, { codec: payloadCodec(config), config, access });

  registerWebhooks(app, {
    invoices,
    providers: deps.providers,
    config,
    logger,
    routes: deps.webhooks ?? declaredWebhooks(),
    callbackWaitSeconds: deps.callbackWaitSeconds ?? 10,
    withDeadline,
    deadlineMs,
    referenceWaitMs: deps.referenceWaitMs ?? config.gateway.referenceWaitMs,
    metrics,
  });

  /**
   * The caller and its tenant's view of invoices, when its principal holds `role`; otherwise the reply is sent (403)
   * and nothing is returned. The tenant scope is what makes another tenant's invoice a 404, like a missing one.
   */
  function authorized(
    request: FastifyRequest,
    reply: FastifyReply,
    role: Role,
  ): { principal: Principal; invoices: InvoiceClient } | undefined {
    const principal = request.principal;
    if (principal && hasRole(principal, role)) return { principal, invoices: invoicesOf(principal) };
    sendProblem(reply, problem(403, 'Forbidden', `this key lacks the role ${role}`));
    return undefined;
  }

  /** One client per principal, made on its first request: the principals are fixed for the gateway's life. */
  const scopedClients = new Map<string, InvoiceClient>();
  function invoicesOf(principal: Principal): InvoiceClient {
    let scoped = scopedClients.get(principal.id);
    if (!scoped) {
      scoped = scopedInvoiceClient(invoices, {
        tenant: principal.tenant,
        principal: principal.id,
        policyFor: (tenant: string) => access.policyFor(tenant),
      });
      scopedClients.set(principal.id, scoped);
    }
    return scoped;
  }

  /** The deciding party is the caller's principal; a body may repeat it but never name someone else. */
  function impersonates(by: string | undefined, principal: Principal, reply: FastifyReply): boolean {
    if (by === undefined || by === principal.id) return false;
    sendProblem(
      reply,
      problem(403, 'Forbidden', 'the deciding party is the caller\'s principal; "by" may not name another', [
        { path: 'by', message: `must be omitted or equal ${principal.id}` },
      ]),
    );
    return true;
  }

  /** The state after a start; an invoice no worker has picked up yet cannot answer a query, so it is described. */
  async function currentState(scoped: InvoiceClient, started: StartedInvoice): Promise<InvoiceState> {
    try {
      return await withDeadline(Math.min(deadlineMs, 5_000), () => scoped.getInvoice(started.invoiceId));
    } catch (error) {
      if (!isTemporalUnavailable(error)) throw error;
      logger.warn({ invoiceId: started.invoiceId }, 'invoice started; its state is not queryable yet');
      return initialInvoiceState(started.request, new Date().toISOString());
    }
  }

  return app;
}
