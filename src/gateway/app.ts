import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { InvoiceClient, StartedInvoice } from '../client';
import type { Config } from '../config';
import type { ProviderName } from '../domain/constants';
import { DecisionSchema, ResolutionSchema } from '../domain/invoice';
import type { Logger } from '../logger';
import { payloadCodec } from '../temporal/codec';
import { PROVIDERS } from '../providers';
import type { ProviderRegistry, WebhookRoute } from '../providers/types';
import { initialInvoiceState, type InvoiceState } from '../workflows/definitions';
import { createApiKeyVerifier } from './auth';
import { registerCodecServer } from './codec-server';
import { buildOpenApiDocument } from './openapi';
import { isTemporalUnavailable, problem, problemFor, sendProblem, zodProblem } from './problem';
import { InvoiceIdParamsSchema, ListInvoicesQuerySchema } from './schemas';
import { registerWebhooks, type WebhookRoutes } from './webhooks';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received: webhook signatures are computed over these bytes, not over re-serialized JSON. */
    rawBody?: string;
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
  /** The keys to accept; default `config.gateway.apiKeys`. The gateway refuses to build without one. */
  apiKeys?: readonly string[];
  /** Webhook routes per provider; default: those the provider definitions declare. */
  webhooks?: WebhookRoutes;
  bodyLimitBytes?: number;
  /** Deadline of one Temporal call made for a request. */
  temporalDeadlineMs?: number;
  /** How long a provider callback waits for the invoice's verdict. */
  callbackWaitSeconds?: number;
  /** Overrides `GATEWAY_REFERENCE_WAIT_MS`. */
  referenceWaitMs?: number;
  /** Overrides `CODEC_API_KEYS`: who may call `/codec/encode` and `/codec/decode`. */
  codecApiKeys?: readonly string[];
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
  const { invoices, config, logger } = deps;
  const isAuthorized = createApiKeyVerifier(deps.apiKeys ?? config.gateway.apiKeys);
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
      // onRequest runs before the body is read: an unauthenticated caller cannot make us parse anything.
      api.addHook('onRequest', (request, reply, done) => {
        if (isAuthorized(request.headers.authorization)) return done();
        reply.header('WWW-Authenticate', 'Bearer');
        sendProblem(reply, problem(401, 'Unauthorized', 'a valid API key is required (Authorization: Bearer)'));
      });

      api.post('/invoices', async (request, reply) => {
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
        const started = await withDeadline(deadlineMs, () => invoices.startInvoice(input));
        const state = await currentState(started);
        return reply
          .status(started.created ? 201 : 200)
          .header('Location', `/v1/invoices/${started.invoiceId}`)
          .send(state);
      });

      api.get('/invoices', async (request, reply) => {
        const query = parse(ListInvoicesQuerySchema, request.query);
        if (query instanceof Error) return sendProblem(reply, zodProblem(query, 'invalid query parameters'));
        const { pageToken, ...filter } = query;
        const page = await withDeadline(deadlineMs, () =>
          invoices.listInvoices({ ...filter, nextPageToken: pageToken }),
        );
        return page;
      });

      api.get('/invoices/:invoiceId', async (request, reply) => {
        const params = parse(InvoiceIdParamsSchema, request.params);
        if (params instanceof Error) return sendProblem(reply, zodProblem(params, 'invalid invoice id'));
        return withDeadline(deadlineMs, () => invoices.getInvoice(params.invoiceId));
      });

      const decisions = {
        approve: invoices.approveInvoice,
        reject: invoices.rejectInvoice,
        cancel: invoices.cancelInvoice,
      } as const;
      for (const [action, decide] of Object.entries(decisions)) {
        api.post(`/invoices/:invoiceId/${action}`, async (request, reply: FastifyReply) => {
          const params = parse(InvoiceIdParamsSchema, request.params);
          if (params instanceof Error) return sendProblem(reply, zodProblem(params, 'invalid invoice id'));
          const decision = parse(DecisionSchema, request.body);
          if (decision instanceof Error) return sendProblem(reply, zodProblem(decision, `invalid ${action} decision`));
          return withDeadline(deadlineMs, () => decide(params.invoiceId, decision));
        });
      }
      api.post('/invoices/:invoiceId/resolve', async (request, reply: FastifyReply) => {
        const params = parse(InvoiceIdParamsSchema, request.params);
        if (params instanceof Error) return sendProblem(reply, zodProblem(params, 'invalid invoice id'));
        const resolution = parse(ResolutionSchema, request.body);
        if (resolution instanceof Error) return sendProblem(reply, zodProblem(resolution, 'invalid resolution'));
        return withDeadline(deadlineMs, () => invoices.resolveInvoice(params.invoiceId, resolution));
      });
      registered();
    },
    { prefix: '/v1' },
  );

  registerCodecServer(app, {
    codec: payloadCodec(config),
    config,
    serviceApiKeys: deps.apiKeys ?? config.gateway.apiKeys,
    codecApiKeys: deps.codecApiKeys,
  });

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
  });

  /** The state after a start; an invoice no worker has picked up yet cannot answer a query, so it is described. */
  async function currentState(started: StartedInvoice): Promise<InvoiceState> {
    try {
      return await withDeadline(Math.min(deadlineMs, 5_000), () => invoices.getInvoice(started.invoiceId));
    } catch (error) {
      if (!isTemporalUnavailable(error)) throw error;
      logger.warn({ invoiceId: started.invoiceId }, 'invoice started; its state is not queryable yet');
      return initialInvoiceState(started.request, new Date().toISOString());
    }
  }

  return app;
}
