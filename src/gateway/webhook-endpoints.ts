import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Principal } from '../access/principals';
import { INVOICE_EVENT_TYPES } from '../domain/events';
import type { Store } from '../store/database';
import { listAttempts } from '../webhooks/deliveries';
import { bareHost, isPrivateAddress } from '../webhooks/destination';
import { ALL_EVENT_TYPES, ENDPOINT_STATUSES, endpointRepository, type EndpointRepository } from '../webhooks/endpoints';
import { AUTH_PROBLEMS, problemResponse, WITH_API_KEY } from './documentation';
import { problem, sendProblem } from './problem';
import type { ServiceApi, ServiceRouteDeps } from './service-routes';

// The types the log writes: a misspelt subscription would otherwise be accepted and never receive anything.
const EventTypeSchema = z.enum([ALL_EVENT_TYPES, ...INVOICE_EVENT_TYPES], {
  error: 'an event type such as invoice.completed (see INVOICE_EVENT_TYPES), or * for every type',
});
const EventTypesSchema = z.array(EventTypeSchema).min(1).max(100);

/** http or https only: a delivery is a POST, and other schemes (file:, data:) would read rather than send. */
const EndpointUrlSchema = z
  .url({ protocol: /^https?$/, error: 'an http or https URL' })
  .max(2048)
  .describe('Where events are POSTed');

const CreateEndpointSchema = z
  .object({
    url: EndpointUrlSchema,
    eventTypes: EventTypesSchema.describe('The event types to send, or ["*"] for all'),
  })
  .strict();

const UpdateEndpointSchema = z
  .object({
    status: z.enum(['enabled', 'disabled']).optional(),
    url: EndpointUrlSchema.optional(),
    eventTypes: EventTypesSchema.optional(),
  })
  .strict();

const RotateSecretSchema = z
  .object({
    expireCurrentInSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600)
      .default(86_400)
      .describe('How long the secrets active until now keep signing beside the new one'),
  })
  .strict();

const EndpointSchema = z.object({
  id: z.string(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  status: z.enum(ENDPOINT_STATUSES),
  failingSince: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const CreatedEndpointSchema = EndpointSchema.extend({
  secret: z.string().describe('The signing secret: shown here once, never again'),
});
const SecretSchema = z.object({ secret: z.string().describe('The new signing secret: shown here once') });
const AttemptSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  attempt: z.number().int(),
  startedAt: z.string(),
  durationMs: z.number().int(),
  statusCode: z.number().int().optional(),
  error: z.string().optional(),
  ok: z.boolean(),
});
const AttemptPageSchema = z.object({
  data: z.array(AttemptSchema),
  next: z.string().optional().describe('Pass as `after` for the next page; absent on the last'),
});
const AttemptsQuerySchema = z
  .object({
    after: z
      .string()
      .regex(/^\d{1,18}$/)
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
const EndpointParamsSchema = z.object({ id: z.string().regex(/^we_[0-9a-f]{24}$/, 'a webhook endpoint id') });

function jsonResponse(description: string, schema: z.ZodType) {
  return { description, content: { 'application/json': { schema } } };
}

const NOT_FOUND = problemResponse('WebhookEndpointNotFound: no such endpoint, or one of another tenant');
const FORBIDDEN = problemResponse('Forbidden: the key lacks the role webhooks:manage');
const ROUTE = { role: 'webhooks:manage' as const };

/** The tenant's webhook endpoints (issue 13, part 2): register, change, rotate the secret, and see every attempt. */
export function registerWebhookEndpointRoutes(api: ServiceApi, deps: ServiceRouteDeps): void {
  const { store, config } = deps;
  const endpoints = store ? endpointRepository(store, config.payloadEncryption.keys) : undefined;

  /** The repository, or the 503 of a gateway started without a store (the answer is already sent then). */
  function repository(reply: FastifyReply): { endpoints: EndpointRepository; store: Store } | undefined {
    if (endpoints && store) return { endpoints, store };
    void sendProblem(reply, problem(503, 'StoreUnavailable', 'this gateway has no store; webhook endpoints need one'));
    return undefined;
  }
  const tenantOf = (request: FastifyRequest): string => (request.principal as Principal).tenant;
  /**
   * An address literal the deliveries would refuse, refused now rather than on every event. A name is checked when
   * each request is sent (it may resolve elsewhere by then).
   */
  const refusedDestination = (reply: FastifyReply, url: string | undefined): FastifyReply | undefined => {
    if (url === undefined || config.webhooks.privateDestinations === 'allow') return undefined;
    const host = bareHost(new URL(url));
    if (isIP(host) === 0 || !isPrivateAddress(host)) return undefined;
    return sendProblem(
      reply,
      problem(400, 'ValidationError', 'the endpoint is invalid', [
        { path: 'url', message: 'a private, loopback or reserved address; endpoints must be reachable publicly' },
      ]),
    );
  };
  const notFound = (reply: FastifyReply) =>
    sendProblem(reply, problem(404, 'WebhookEndpointNotFound', 'no such webhook endpoint'));
  // No tenant's secret or endpoint data in the answer's shape beyond the schema's fields.
  const publicView = ({ tenant: _tenant, ...endpoint }: { tenant: string } & z.output<typeof EndpointSchema>) =>
    endpoint;

  api.post(
    '/webhook-endpoints',
    {
      config: { ...ROUTE, invalid: { body: 'the endpoint is invalid' } },
      schema: {
        operationId: 'createWebhookEndpoint',
        summary: 'Register an endpoint; its signing secret is in this answer only',
        tags: ['webhooks'],
        security: [...WITH_API_KEY],
        body: CreateEndpointSchema,
        response: {
          201: jsonResponse('Registered', CreatedEndpointSchema),
          400: problemResponse('ValidationError: the endpoint is invalid; `errors` names the fields'),
          403: FORBIDDEN,
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const refused = refusedDestination(reply, request.body.url);
      if (refused) return refused;
      const found = repository(reply);
      if (!found) return reply;
      const eventTypes = request.body.eventTypes.includes(ALL_EVENT_TYPES)
        ? [ALL_EVENT_TYPES]
        : [...new Set(request.body.eventTypes)];
      const created = await found.endpoints.create({ tenant: tenantOf(request), url: request.body.url, eventTypes });
      request.log.info({ endpointId: created.endpoint.id }, 'webhook endpoint registered');
      return reply
        .status(201)
        .header('Location', `/v1/webhook-endpoints/${created.endpoint.id}`)
        .send({ ...publicView(created.endpoint), secret: created.secret });
    },
  );

  api.get(
    '/webhook-endpoints',
    {
      config: ROUTE,
      schema: {
        operationId: 'listWebhookEndpoints',
        summary: "The tenant's endpoints",
        tags: ['webhooks'],
        security: [...WITH_API_KEY],
        response: {
          200: jsonResponse('The endpoints', z.object({ data: z.array(EndpointSchema) })),
          400: problemResponse('ValidationError: the request is invalid'),
          403: FORBIDDEN,
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const found = repository(reply);
      if (!found) return reply;
      return { data: (await found.endpoints.list(tenantOf(request))).map(publicView) };
    },
  );

  api.get(
    '/webhook-endpoints/:id',
    {
      config: { ...ROUTE, invalid: { params: 'invalid endpoint id' } },
      schema: {
        operationId: 'getWebhookEndpoint',
        summary: 'One endpoint (its secret is never shown again)',
        tags: ['webhooks'],
        security: [...WITH_API_KEY],
        params: EndpointParamsSchema,
        response: {
          200: jsonResponse('The endpoint', EndpointSchema),
          400: problemResponse('ValidationError: invalid endpoint id'),
          403: FORBIDDEN,
          404: NOT_FOUND,
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const found = repository(reply);
      if (!found) return reply;
      const endpoint = await found.endpoints.find(tenantOf(request), request.params.id);
      return endpoint ? publicView(endpoint) : notFound(reply);
    },
  );

  api.patch(
    '/webhook-endpoints/:id',
    {
      config: { ...ROUTE, invalid: { params: 'invalid endpoint id', body: 'invalid change' } },
      schema: {
        operationId: 'updateWebhookEndpoint',
        summary: 'Enable or disable an endpoint, or change its URL or event types',
        description:
          'Disabling stops its deliveries: each stops at its next attempt, and what was pending is cancelled.',
        tags: ['webhooks'],
        security: [...WITH_API_KEY],
        params: EndpointParamsSchema,
        body: UpdateEndpointSchema,
        response: {
          200: jsonResponse('Changed', EndpointSchema),
          400: problemResponse('ValidationError: the change is invalid'),
          403: FORBIDDEN,
          404: NOT_FOUND,
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const refused = refusedDestination(reply, request.body.url);
      if (refused) return refused;
      const found = repository(reply);
      if (!found) return reply;
      const { eventTypes, ...rest } = request.body;
      const patch = {
        ...rest,
        ...(eventTypes
          ? { eventTypes: eventTypes.includes(ALL_EVENT_TYPES) ? [ALL_EVENT_TYPES] : [...new Set(eventTypes)] }
          : {}),
      };
      const endpoint = await found.endpoints.update(tenantOf(request), request.params.id, patch);
      return endpoint ? publicView(endpoint) : notFound(reply);
    },
  );

  api.delete(
    '/webhook-endpoints/:id',
    {
      config: { ...ROUTE, invalid: { params: 'invalid endpoint id' } },
      schema: {
        operationId: 'deleteWebhookEndpoint',
        summary: 'Delete an endpoint and its secrets; its deliveries stop',
        tags: ['webhooks'],
        security: [...WITH_API_KEY],
        params: EndpointParamsSchema,
        response: {
          204: z.undefined().describe('Deleted'),
          400: problemResponse('ValidationError: invalid endpoint id'),
          403: FORBIDDEN,
          404: NOT_FOUND,
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const found = repository(reply);
      if (!found) return reply;
      if (!(await found.endpoints.remove(tenantOf(request), request.params.id))) return notFound(reply);
      return reply.status(204).send();
    },
  );

  api.post(
    '/webhook-endpoints/:id/rotate-secret',
    {
      config: { ...ROUTE, invalid: { params: 'invalid endpoint id', body: 'invalid rotation' } },
      schema: {
        operationId: 'rotateWebhookSecret',
        summary: 'A new signing secret; the current ones keep signing beside it until they expire',
        tags: ['webhooks'],
        security: [...WITH_API_KEY],
        params: EndpointParamsSchema,
        body: RotateSecretSchema.nullish().describe('Optional: without a body the current secrets expire in a day'),
        response: {
          200: jsonResponse('The new secret', SecretSchema),
          400: problemResponse('ValidationError: the rotation is invalid'),
          403: FORBIDDEN,
          404: NOT_FOUND,
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const found = repository(reply);
      if (!found) return reply;
      // No body at all arrives as null: the defaults apply.
      const { expireCurrentInSeconds } = request.body ?? RotateSecretSchema.parse({});
      const secret = await found.endpoints.rotateSecret(tenantOf(request), request.params.id, expireCurrentInSeconds);
      if (secret === undefined) return notFound(reply);
      request.log.info({ endpointId: request.params.id }, 'webhook secret rotated');
      return { secret };
    },
  );

  api.get(
    '/webhook-endpoints/:id/attempts',
    {
      config: { ...ROUTE, invalid: { params: 'invalid endpoint id' } },
      schema: {
        operationId: 'listWebhookAttempts',
        summary: 'Every delivery attempt to the endpoint, oldest first: status code or error, and how long it took',
        tags: ['webhooks'],
        security: [...WITH_API_KEY],
        params: EndpointParamsSchema,
        querystring: AttemptsQuerySchema,
        response: {
          200: jsonResponse('A page of attempts', AttemptPageSchema),
          400: problemResponse('ValidationError: invalid endpoint id or query parameters'),
          403: FORBIDDEN,
          404: NOT_FOUND,
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const found = repository(reply);
      if (!found) return reply;
      const endpoint = await found.endpoints.find(tenantOf(request), request.params.id);
      if (!endpoint) return notFound(reply);
      const { after, limit } = request.query;
      const data = await listAttempts(found.store, endpoint.id, { ...(after ? { after } : {}), limit });
      const last = data.at(-1);
      return { data, ...(data.length === limit && last ? { next: last.id } : {}) };
    },
  );
}
