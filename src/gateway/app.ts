import rateLimit from '@fastify/rate-limit';
import type { Span } from '@opentelemetry/api';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { hasRole, type AccessRegistry, type Principal, type Role } from '../access/principals';
import { requestFingerprint, scopedInvoiceClient, type InvoiceClient, type StartedInvoice } from '../client';
import { InvoiceConflictError, InvoiceNotFoundError } from '../client/errors';
import { claimCreation, lastKnownState, markCreationStarted } from '../store/creations';
import type { Config } from '../config';
import { isFinalStatus, type ProviderName } from '../domain/constants';
import { InvoiceRequestSchema, type InvoiceRequest } from '../domain/invoice';
import type { Logger } from '../logger';
import { payloadCodec } from '../temporal/codec';
import { PROVIDERS } from '../providers';
import type { ProviderRegistry, WebhookRoute } from '../providers/types';
import { initialInvoiceState, invoiceWorkflowId, tenantInvoiceKey, type InvoiceState } from '../workflows/definitions';
import { accessFromConfig } from './auth';
import { SpanKind, traced } from '../telemetry/tracing';
import { registerCodecServer } from './codec-server';
import { AUTH_PROBLEMS, NO_AUTH, problemResponse, registerDocumentation, WITH_API_KEY } from './documentation';
import { GatewayMetrics } from './metrics';
import { isTemporalUnavailable, problem, problemFor, sendProblem, type Problem } from './problem';
import {
  DecisionBodySchema,
  ForceCompleteBodySchema,
  HealthSchema,
  InvoiceIdParamsSchema,
  InvoicePageSchema,
  InvoiceStateSchema,
  ListInvoicesQuerySchema,
  ReadinessSchema,
  ResolutionBodySchema,
} from './schemas';
import { registerWebhooks, type WebhookRoutes } from './webhooks';
import { registerEventRoutes } from './events';
import { registerReconciliationRoutes } from './reconciliations';
import type { ServiceRouteDeps } from './service-routes';
import { registerWebhookEndpointRoutes } from './webhook-endpoints';
import type { Store } from '../store/database';
import type { Client } from '@temporalio/client';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received: webhook signatures are computed over these bytes, not over re-serialized JSON. */
    rawBody?: string;
    /** The caller of the service API, once its key was recognised. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The role a `/v1` route needs; checked before the input is validated, so a key without it learns no shapes. */
    role?: Role;
    /** How a request this route's schemas refuse is answered: the problem's type and, per part, its detail. */
    invalid?: { type?: string } & Partial<Record<ValidationPart, string>>;
  }
}

type ValidationPart = 'body' | 'params' | 'querystring' | 'headers';

/** An answer with a JSON body, for the document and the serializer alike. */
function jsonResponse(description: string, schema: z.ZodType) {
  return { description, content: { 'application/json': { schema } } };
}

/**
 * The type provider's validation failure in the gateway's error contract: 400 problem+json whose `errors` name each
 * field by its dotted path, with zod's message.
 */
function validationProblem(
  error: FastifyError & { validation: { instancePath: string; message?: string }[] },
  request: FastifyRequest,
): Problem {
  const part = error.validationContext ?? 'body';
  const invalid = request.routeOptions.config.invalid;
  return problem(
    400,
    invalid?.type ?? 'ValidationError',
    invalid?.[part] ?? `invalid ${part === 'querystring' ? 'query parameters' : part}`,
    error.validation.map((issue) => ({
      path: issue.instancePath.split('/').filter(Boolean).join('.') || '(root)',
      message: issue.message ?? 'invalid',
    })),
  );
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
  /** The orchestrator's store: event log, created invoice ids, webhook endpoints, reconciliation reports. */
  store?: Store;
  /** The whole client (schedules, other workflow types), for the routes beside the invoice routes. */
  temporal?: Client;
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

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The HTTP gateway: service API under `/v1` (bearer keys), provider webhooks under `/webhooks`, health and the OpenAPI
 * document. Returned unstarted, so tests can `inject` or listen on port 0.
 */
export function buildGateway(deps: GatewayDeps): FastifyInstance {
  const { config, logger } = deps;
  // Providers name an invoice by its full key, whatever tenant it belongs to: webhooks use a client of no tenant, and
  // each service request one of its caller's tenant (see `authorized`). With a store, the invoices started here record
  // their events: the store is the deployment's, so its workers have it too.
  const recordEvents = deps.store !== undefined;
  const invoices =
    deps.invoices.tenant || Boolean(deps.invoices.options.recordEvents) !== recordEvents
      ? scopedInvoiceClient(deps.invoices, { tenant: undefined, principal: undefined, recordEvents })
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
  // Every route's schemas are zod: the same ones validate its input, serialize its answers and make the document.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onRoute', (route) => {
    const schema: { response?: unknown; hide?: unknown } | undefined = route.schema;
    if (!schema?.response && !schema?.hide) {
      throw new Error(
        `${String(route.method)} ${route.url} declares no response schema, so the OpenAPI document could not describe it`,
      );
    }
  });

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
    const body = hasZodFastifySchemaValidationErrors(error) ? validationProblem(error, request) : problemFor(error);
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
  let byAddress: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  app.addHook('onRequest', async (request, reply) => {
    // Health checks come from the platform itself, at its own pace.
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

  registerDocumentation(app, { publicUrl: config.gateway.publicUrl });
  const metrics = deps.metrics ?? new GatewayMetrics();
  metrics.register(app);

  // In a plugin, so the documentation plugin above is loaded and sees every route as it is added.
  app.register((routes, _options, registered) => {
    const health = routes.withTypeProvider<ZodTypeProvider>();
    health.get(
      '/healthz',
      {
        schema: {
          summary: 'The process is up',
          tags: ['health'],
          security: [...NO_AUTH],
          response: { 200: jsonResponse('Up', HealthSchema) },
        },
      },
      (_request, reply) => reply.send({ status: 'ok' }),
    );
    health.get(
      '/readyz',
      {
        schema: {
          summary: 'Temporal and a worker are reachable',
          tags: ['health'],
          security: [...NO_AUTH],
          response: { 200: jsonResponse('Ready', ReadinessSchema), 503: jsonResponse('Not ready', ReadinessSchema) },
        },
      },
      async (_request, reply) => {
        const [temporal, worker] = await Promise.all([
          deps.temporalHealth().catch(() => false),
          deps.workerHealth ? deps.workerHealth().catch(() => false) : Promise.resolve(undefined),
        ]);
        const ready = temporal && worker !== false;
        return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', temporal, worker });
      },
    );
    routes.register(serviceApi, { prefix: '/v1' });
    registerCodecServer(routes, { codec: payloadCodec(config), config, access });
    registerWebhooks(routes, {
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
    registered();
  });

  function serviceApi(plain: FastifyInstance, _options: unknown, registered: (error?: Error) => void): void {
    const api = plain.withTypeProvider<ZodTypeProvider>();
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
        return sendProblem(reply, problem(401, 'Unauthorized', 'a valid API key is required (Authorization: Bearer)'));
      }
      request.principal = principal;
      const limit = await byPrincipal(request);
      if (!limit.isAllowed && limit.isExceeded) {
        metrics.rateLimited('principal');
        return tooManyRequests(reply, limit.ttlInSeconds, 'this key');
      }
    });
    api.addHook('preValidation', async (request, reply) => {
      const role = request.routeOptions.config.role;
      if (role && !(request.principal && hasRole(request.principal, role))) {
        return sendProblem(reply, problem(403, 'Forbidden', `this key lacks the role ${role}`));
      }
    });

    const invoiceState = (description: string) => jsonResponse(description, InvoiceStateSchema);
    const notFound = problemResponse('InvoiceNotFound: no such invoice, or one of another tenant');
    const forbidden = (detail: string) => problemResponse(`Forbidden: the key lacks the role; ${detail}`);

    api.post(
      '/invoices',
      {
        config: {
          role: 'invoices:create',
          invalid: { type: 'InvalidInvoiceRequest', body: 'the invoice request is invalid' },
        },
        preValidation: idempotencyKeyAsInvoiceId,
        schema: {
          operationId: 'createInvoice',
          summary: 'Start an invoice; the same request again returns the same invoice',
          tags: ['invoices'],
          security: [...WITH_API_KEY],
          headers: z.looseObject({
            'idempotency-key': InvoiceRequestSchema.shape.invoiceId
              .optional()
              .describe('Used as invoiceId when the body has none; must equal it otherwise'),
          }),
          body: InvoiceRequestSchema,
          response: {
            201: invoiceState('Started'),
            200: invoiceState('Already started with this same request'),
            400: problemResponse('InvalidInvoiceRequest: the request is invalid; `errors` names the fields'),
            403: forbidden('invoices:create'),
            409: problemResponse('InvoiceConflict: the invoice id was used with a different request'),
            413: problemResponse('The body is too large'),
            ...AUTH_PROBLEMS,
          },
        },
      },
      (request, reply) =>
        traced(
          'POST /v1/invoices',
          {
            kind: SpanKind.SERVER,
            attributes: { 'http.request.method': 'POST', 'http.route': '/v1/invoices' },
            parent: request.headers,
          },
          async (span: Span) => {
            const caller = callerOf(request);
            const remembered = deps.store ? await remember(deps.store, caller.principal, request.body) : undefined;
            if (remembered?.answer) {
              span.setAttribute('http.response.status_code', 200);
              return reply
                .status(200)
                .header('Location', `/v1/invoices/${request.body.invoiceId}`)
                .send(remembered.answer);
            }
            const started = await withDeadline(deadlineMs, () =>
              caller.invoices.startInvoice(request.body, { createdBy: caller.principal.id }),
            );
            if (deps.store && remembered) {
              await markCreationStarted(deps.store, caller.principal.tenant, started.invoiceId);
            }
            if (started.created) metrics.invoiceStarted(started.request.provider);
            span.setAttributes({
              'payment.invoice_id': started.invoiceId,
              'payment.provider': started.request.provider,
            });
            const state = await currentState(caller.invoices, started);
            span.setAttribute('http.response.status_code', started.created ? 201 : 200);
            return reply
              .status(started.created ? 201 : 200)
              .header('Location', `/v1/invoices/${started.invoiceId}`)
              .send(state);
          },
        ),
    );

    api.get(
      '/invoices',
      {
        config: { role: 'invoices:read' },
        schema: {
          operationId: 'listInvoices',
          summary: "The tenant's invoices, newest first, page by page",
          tags: ['invoices'],
          security: [...WITH_API_KEY],
          querystring: ListInvoicesQuerySchema,
          response: {
            200: jsonResponse('A page of invoices', InvoicePageSchema),
            400: problemResponse('ValidationError: invalid query parameters'),
            403: forbidden('invoices:read'),
            ...AUTH_PROBLEMS,
          },
        },
      },
      async (request) => {
        const caller = callerOf(request);
        const { pageToken, ...filter } = request.query;
        return withDeadline(deadlineMs, () => caller.invoices.listInvoices({ ...filter, nextPageToken: pageToken }));
      },
    );

    api.get(
      '/invoices/:invoiceId',
      {
        config: { role: 'invoices:read', invalid: { params: 'invalid invoice id' } },
        schema: {
          operationId: 'getInvoice',
          summary: "The invoice's state",
          tags: ['invoices'],
          security: [...WITH_API_KEY],
          params: InvoiceIdParamsSchema,
          response: {
            200: invoiceState('The invoice'),
            400: problemResponse('ValidationError: invalid invoice id'),
            403: forbidden('invoices:read'),
            404: notFound,
            ...AUTH_PROBLEMS,
          },
        },
      },
      async (request) => {
        const caller = callerOf(request);
        return withDeadline(deadlineMs, () => caller.invoices.getInvoice(request.params.invoiceId));
      },
    );

    const decisions = {
      approve: { role: 'invoices:approve', decide: (c: InvoiceClient) => c.approveInvoice },
      reject: { role: 'invoices:approve', decide: (c: InvoiceClient) => c.rejectInvoice },
      cancel: { role: 'invoices:cancel', decide: (c: InvoiceClient) => c.cancelInvoice },
    } as const;
    for (const [action, { role, decide }] of Object.entries(decisions)) {
      api.post(
        `/invoices/:invoiceId/${action}`,
        {
          config: { role, invalid: { params: 'invalid invoice id', body: `invalid ${action} decision` } },
          // The decision's fields are all optional, so a request may send no body at all.
          preValidation: emptyBodyAsObject,
          schema: {
            operationId: `${action}Invoice`,
            summary: `${action[0]?.toUpperCase()}${action.slice(1)} the invoice`,
            tags: ['decisions'],
            security: [...WITH_API_KEY],
            params: InvoiceIdParamsSchema,
            body: DecisionBodySchema,
            response: {
              200: invoiceState('The invoice after the decision'),
              400: problemResponse('ValidationError: the decision is invalid'),
              403: forbidden(
                `${role}, or \`by\` names another principal; NotAllowed: this principal may not take this decision ` +
                  '(the creator approving, an approver twice, one not in `approval.approvers`)',
              ),
              404: notFound,
              409: problemResponse('InvalidState: the invoice cannot take this decision in its current state'),
              ...AUTH_PROBLEMS,
            },
          },
        },
        async (request, reply) => {
          const caller = callerOf(request);
          if (impersonates(request.body.by, caller.principal, reply)) return reply;
          return withDeadline(deadlineMs, () =>
            decide(caller.invoices)(request.params.invoiceId, { by: caller.principal.id, reason: request.body.reason }),
          );
        },
      );
    }

    api.post(
      '/invoices/:invoiceId/resolve',
      {
        // Resolving says what happened to money at the provider: an operator's word, not a service's.
        config: { role: 'admin', invalid: { params: 'invalid invoice id', body: 'invalid resolution' } },
        schema: {
          operationId: 'resolveInvoice',
          summary: 'Resolve an invoice in NEEDS_REVIEW with what the provider shows happened (operators only)',
          tags: ['decisions'],
          security: [...WITH_API_KEY],
          params: InvoiceIdParamsSchema,
          body: ResolutionBodySchema,
          response: {
            200: invoiceState('The invoice after the resolution'),
            400: problemResponse('ValidationError: the resolution is invalid'),
            403: forbidden('admin, or `by` names another principal'),
            404: notFound,
            409: problemResponse('InvalidState: the invoice is not in NEEDS_REVIEW'),
            ...AUTH_PROBLEMS,
          },
        },
      },
      async (request, reply) => {
        const caller = callerOf(request);
        if (impersonates(request.body.by, caller.principal, reply)) return reply;
        return withDeadline(deadlineMs, () =>
          caller.invoices.resolveInvoice(request.params.invoiceId, { ...request.body, by: caller.principal.id }),
        );
      },
    );

    api.post(
      '/invoices/:invoiceId/complete',
      {
        // Completing by hand vouches that the payment arrived: the word of one who may approve.
        config: { role: 'invoices:approve', invalid: { params: 'invalid invoice id', body: 'invalid completion' } },
        preValidation: emptyBodyAsObject,
        schema: {
          operationId: 'completeInvoice',
          summary: 'Complete a Bitfinex invoice still waiting for its payment, by hand (Bitfinex Complete Invoice)',
          description:
            'Links the deposit or ledger entry that paid the invoice (exactly one of `depositId` and `ledgerId`); ' +
            'Bitfinex marks it force-completed and the invoice records `forcedCompletion` (who, when, with what). ' +
            'A repeated request while one runs joins it.',
          tags: ['decisions'],
          security: [...WITH_API_KEY],
          params: InvoiceIdParamsSchema,
          body: ForceCompleteBodySchema,
          response: {
            200: invoiceState('The invoice, COMPLETED'),
            202: invoiceState(
              'Accepted, still on its way to Bitfinex (its rate-limited queue): the invoice with ' +
                '`forcedCompletion.outcome` pending; GET it for the outcome',
            ),
            400: problemResponse('ValidationError: the completion is invalid; `errors` names the fields'),
            403: forbidden(
              'invoices:approve, or `by` names another principal; NotAllowed: the creator of the invoice may not ' +
                'complete it',
            ),
            404: notFound,
            409: problemResponse(
              'InvalidState: not a Bitfinex invoice, or not waiting for its payment (AWAITING_SETTLEMENT), or ' +
                'already final, or being completed with another deposit',
            ),
            502: problemResponse('ForceCompleteFailed: Bitfinex refused the completion or could not be reached'),
            ...AUTH_PROBLEMS,
          },
        },
      },
      async (request, reply) => {
        const caller = callerOf(request);
        if (impersonates(request.body.by, caller.principal, reply)) return reply;
        // Half the deadline to wait: the rest is for reading the state of a completion still on its way (202).
        const state = await withDeadline(deadlineMs, () =>
          caller.invoices.forceCompleteInvoice(
            request.params.invoiceId,
            { ...request.body, by: caller.principal.id },
            { waitMs: deadlineMs / 2 },
          ),
        );
        return isFinalStatus(state.status) ? state : reply.code(202).send(state);
      },
    );
    const routeDeps: ServiceRouteDeps = {
      store: deps.store,
      temporal: deps.temporal,
      config,
      logger,
      withDeadline,
      deadlineMs,
    };
    registerEventRoutes(api, routeDeps);
    registerWebhookEndpointRoutes(api, routeDeps);
    registerReconciliationRoutes(api, routeDeps);
    registered();
  }

  /** Before validation, so a body without an invoice id is validated with the header's. */
  async function idempotencyKeyAsInvoiceId(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const idempotencyKey = request.headers['idempotency-key'];
    const body = request.body;
    if (typeof idempotencyKey !== 'string' || !isRecord(body)) return;
    if (body.invoiceId === undefined) {
      request.body = { ...body, invoiceId: idempotencyKey };
    } else if (body.invoiceId !== idempotencyKey) {
      await sendProblem(
        reply,
        problem(400, 'ValidationError', 'the Idempotency-Key header and the body name different invoices', [
          { path: 'invoiceId', message: 'must equal the Idempotency-Key header' },
        ]),
      );
    }
  }

  function emptyBodyAsObject(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
    request.body ??= {};
    done();
  }

  /** The caller authenticated by the `/v1` hooks, with its tenant's view of invoices. */
  function callerOf(request: FastifyRequest): { principal: Principal; invoices: InvoiceClient } {
    const principal = request.principal;
    // The onRequest hook answered 401 already; reaching here without one is a wiring fault.
    if (!principal) throw new Error('a /v1 handler ran without an authenticated principal');
    return { principal, invoices: invoicesOf(principal) };
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

  /**
   * The store's memory of the id, taken before anything starts. A first create claims it. A repeat with another body
   * is a conflict. A repeat of a create Temporal accepted is answered without starting: from the workflow while
   * Temporal holds it, from the store's last record of it once retention has deleted it. A claim whose start was never
   * confirmed (the gateway died in between) starts again, and Temporal's duplicate-id refusal still guards that.
   */
  async function remember(
    store: Store,
    principal: Principal,
    body: InvoiceRequest,
  ): Promise<{ answer?: InvoiceState }> {
    const scoped = invoicesOf(principal);
    const key = tenantInvoiceKey(principal.tenant, body.invoiceId);
    const requestHash = requestFingerprint(body);
    const { claimed, creation } = await claimCreation(store, {
      tenant: principal.tenant,
      invoiceId: body.invoiceId,
      workflowId: invoiceWorkflowId(key),
      requestHash,
      initialState: { ...initialInvoiceState(body, new Date().toISOString()), reference: key },
    });
    if (claimed || !creation.startedAt) return {};
    if (creation.requestHash !== requestHash) throw new InvoiceConflictError(body.invoiceId);
    try {
      return { answer: await withDeadline(Math.min(deadlineMs, 5_000), () => scoped.getInvoice(body.invoiceId)) };
    } catch (error) {
      if (!(error instanceof InvoiceNotFoundError)) throw error;
      const last = await lastKnownState(store, principal.tenant, body.invoiceId);
      if (!last) throw error;
      logger.info({ invoiceId: body.invoiceId }, 'repeated create of an invoice Temporal no longer holds');
      return { answer: last };
    }
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
