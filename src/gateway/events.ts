import { z } from 'zod';
import { INVOICE_EVENT_TYPES } from '../domain/events';
import { InvoiceRequestSchema } from '../domain/invoice';
import { pageEvents } from '../events/log';
import { AUTH_PROBLEMS, problemResponse, WITH_API_KEY } from './documentation';
import { problem, sendProblem } from './problem';
import { InvoiceStateSchema, documentedSchemas } from './schemas';
import type { ServiceApi, ServiceRouteDeps } from './service-routes';

export const DEFAULT_EVENT_PAGE = 100;
export const MAX_EVENT_PAGE = 500;

/**
 * The cursor is the position of the last event read, in decimal. Opaque to callers, but stable: positions are stored,
 * so a cursor saved before a restart (of the gateway, the workers, the whole stack) reads on from the same event. At
 * most 15 digits, so it is exact as a JavaScript number.
 */
const CursorSchema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,14})$/, 'a cursor as `next` returned it (or 0 for the start)')
  .transform(Number);

const EventTypeListSchema = z
  .string()
  .transform((value) => value.split(',').map((type) => type.trim()))
  .pipe(z.array(z.enum(INVOICE_EVENT_TYPES)).min(1));

export const EventsQuerySchema = z
  .object({
    after: CursorSchema.optional(),
    type: EventTypeListSchema.optional().describe('One event type, or several separated by commas'),
    invoiceId: InvoiceRequestSchema.shape.invoiceId.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_EVENT_PAGE).default(DEFAULT_EVENT_PAGE),
  })
  .strict();

export const InvoiceEventSchema = z.object({
  id: z.string().describe('Stable: the same event delivered or read twice has the same id'),
  type: z.string().describe(`One of ${INVOICE_EVENT_TYPES.join(', ')}`),
  tenant: z.string(),
  invoiceId: z.string(),
  sequence: z.number().int().describe("The event's number among its invoice's events, from 1"),
  position: z.number().int().describe("The event's place in the tenant's log, from 1"),
  occurredAt: z.string(),
  data: z.object({ invoice: InvoiceStateSchema.describe('The invoice as of the event') }),
});
documentedSchemas.add(InvoiceEventSchema, { id: 'InvoiceEvent' });

export const EventPageSchema = z.object({
  data: z.array(InvoiceEventSchema),
  next: z.string().describe('The cursor to pass as `after` for the events that follow (the same when none did)'),
  hasMore: z.boolean(),
});

/** The store's server is away or dropped the connection (as opposed to a query it refused). */
function isStoreUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01'].includes(code)) {
    return true;
  }
  return error instanceof Error && /Connection terminated|connection timeout/i.test(error.message);
}

/** `GET /v1/events`: the caller's tenant's event log, in order, page by page. */
export function registerEventRoutes(api: ServiceApi, deps: ServiceRouteDeps): void {
  api.get(
    '/events',
    {
      config: { role: 'events:read', invalid: { querystring: 'invalid query parameters' } },
      schema: {
        operationId: 'listEvents',
        summary: "The tenant's invoice events in the order they were recorded, from a cursor",
        description:
          "Every transition and decision of the tenant's invoices, each with its invoice as of the event. Pass the " +
          "page's `next` as `after` to read on; the cursor stays valid across restarts.",
        tags: ['events'],
        security: [...WITH_API_KEY],
        querystring: EventsQuerySchema,
        response: {
          200: { description: 'A page of events', content: { 'application/json': { schema: EventPageSchema } } },
          400: problemResponse('ValidationError: a bad cursor, type or limit; `errors` names the parameter'),
          403: problemResponse('Forbidden: the key lacks the role events:read'),
          ...AUTH_PROBLEMS,
          503: problemResponse('StoreUnavailable: the event store is not configured or cannot be reached'),
        },
      },
    },
    async (request, reply) => {
      const { store } = deps;
      const principal = request.principal;
      // The /v1 hooks answered 401 already; reaching here without one is a wiring fault.
      if (!principal) throw new Error('GET /v1/events ran without an authenticated principal');
      if (!store) {
        return sendProblem(reply, problem(503, 'StoreUnavailable', 'this gateway has no event store; retry later'));
      }
      const { after, type, invoiceId, limit } = request.query;
      try {
        const page = await pageEvents(store, principal.tenant, { after, types: type, invoiceId, limit });
        // Spread into plain objects: the response schema's loose invoice takes any fields, an interface claims none.
        const data = page.events.map((event) => ({ ...event, data: { invoice: { ...event.data.invoice } } }));
        return { data, next: String(page.next), hasMore: page.hasMore };
      } catch (error) {
        if (!isStoreUnreachable(error)) throw error;
        deps.logger.warn({ err: error }, 'event store unreachable');
        return sendProblem(reply, problem(503, 'StoreUnavailable', 'the event store cannot be reached; retry later'));
      }
    },
  );
}
