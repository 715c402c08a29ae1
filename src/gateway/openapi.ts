import { z } from 'zod';
import { InvoiceRequestSchema, InvoiceStatusSchema } from '../domain/invoice';
import { DecisionBodySchema, ForceCompleteBodySchema, ListInvoicesQuerySchema, ProblemSchema } from './schemas';

type JsonSchema = Record<string, unknown>;

/** The request shapes as a client sends them: defaults make fields optional on input. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const document: JsonSchema = { ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) };
  // The OpenAPI document declares the dialect once; a component repeating it is noise.
  delete document.$schema;
  return document;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

const invoiceIdParameter = {
  name: 'invoiceId',
  in: 'path',
  required: true,
  schema: jsonSchema(InvoiceRequestSchema.shape.invoiceId),
};

function decisionOperation(action: 'approve' | 'reject' | 'cancel') {
  return {
    post: {
      operationId: `${action}Invoice`,
      summary: `${action[0]?.toUpperCase()}${action.slice(1)} the invoice`,
      parameters: [invoiceIdParameter],
      requestBody: { required: true, content: json(ref('Decision')) },
      responses: {
        200: { description: 'The invoice after the decision', content: json(ref('InvoiceState')) },
        400: problemResponse('The decision is invalid'),
        403: problemResponse(
          'Forbidden: the key lacks the role, or `by` names another principal; NotAllowed: this principal may not ' +
            'take this decision (the creator approving, an approver twice, one not in `approval.approvers`)',
        ),
        404: problemResponse('No such invoice'),
        409: problemResponse('InvalidState: the invoice cannot take this decision in its current state'),
        429: problemResponse('Too many requests from this key or address; see Retry-After'),
      },
    },
  };
}

/** Built from the zod schemas the handlers validate with, so the document cannot drift from the code. */
export function buildOpenApiDocument(serverUrl?: string): JsonSchema {
  const listParameters = Object.entries(ListInvoicesQuerySchema.shape).map(([name, schema]) => ({
    name,
    in: 'query',
    required: false,
    schema: jsonSchema(schema),
  }));
  return {
    openapi: '3.1.0',
    info: { title: 'payment-orchestrator gateway', version: '1' },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ bearer: [] }],
    paths: {
      '/v1/invoices': {
        post: {
          operationId: 'createInvoice',
          summary: 'Start an invoice; the same request again returns the same invoice',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description: 'Used as invoiceId when the body has none; must equal it otherwise',
              schema: jsonSchema(InvoiceRequestSchema.shape.invoiceId),
            },
          ],
          requestBody: { required: true, content: json(ref('InvoiceRequest')) },
          responses: {
            201: { description: 'Started', content: json(ref('InvoiceState')) },
            200: { description: 'Already started with this same request', content: json(ref('InvoiceState')) },
            400: problemResponse('The request is invalid; `errors` names the fields'),
            409: problemResponse('The invoice id was used with a different request'),
            413: problemResponse('The body is too large'),
          },
        },
        get: {
          operationId: 'listInvoices',
          parameters: listParameters,
          responses: {
            200: {
              description: 'A page of invoices',
              content: json({
                type: 'object',
                properties: {
                  invoices: { type: 'array', items: { type: 'object' } },
                  nextPageToken: { type: 'string' },
                },
              }),
            },
            400: problemResponse('Invalid query parameters'),
          },
        },
      },
      '/v1/invoices/{invoiceId}': {
        get: {
          operationId: 'getInvoice',
          parameters: [invoiceIdParameter],
          responses: {
            200: { description: 'The invoice', content: json(ref('InvoiceState')) },
            404: problemResponse('No such invoice'),
          },
        },
      },
      '/v1/invoices/{invoiceId}/approve': decisionOperation('approve'),
      '/v1/invoices/{invoiceId}/reject': decisionOperation('reject'),
      '/v1/invoices/{invoiceId}/cancel': decisionOperation('cancel'),
      '/v1/invoices/{invoiceId}/complete': {
        post: {
          operationId: 'completeInvoice',
          summary: 'Complete a Bitfinex invoice still waiting for its payment, by hand (Bitfinex Complete Invoice)',
          description:
            'Links the deposit or ledger entry that paid the invoice (exactly one of `depositId` and `ledgerId`); ' +
            'Bitfinex marks it force-completed and the ' +
            'invoice records `forcedCompletion` (who, when, with what). A repeated request while one runs joins it.',
          parameters: [invoiceIdParameter],
          requestBody: { required: true, content: json(ref('ForceCompletion')) },
          responses: {
            200: { description: 'The invoice, COMPLETED', content: json(ref('InvoiceState')) },
            202: {
              description:
                'Accepted, still on its way to Bitfinex (its rate-limited queue): the invoice with ' +
                '`forcedCompletion.outcome` pending; GET it for the outcome',
              content: json(ref('InvoiceState')),
            },
            400: problemResponse('The completion is invalid; `errors` names the fields'),
            403: problemResponse(
              'Forbidden: the key lacks invoices:approve, or `by` names another principal; NotAllowed: the ' +
                'creator of the invoice may not complete it',
            ),
            404: problemResponse('No such invoice'),
            409: problemResponse(
              'InvalidState: not a Bitfinex invoice, or not waiting for its payment (AWAITING_SETTLEMENT), or ' +
                'already final, or being completed with another deposit',
            ),
            429: problemResponse('Too many requests from this key or address; see Retry-After'),
            502: problemResponse('ForceCompleteFailed: Bitfinex refused the completion or could not be reached'),
          },
        },
      },
      '/healthz': { get: { security: [], responses: { 200: { description: 'The process is up' } } } },
      '/readyz': {
        get: {
          security: [],
          responses: {
            200: { description: 'Temporal and a worker are reachable' },
            503: { description: 'Temporal or the workers are not' },
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        InvoiceRequest: jsonSchema(InvoiceRequestSchema),
        Decision: jsonSchema(DecisionBodySchema),
        ForceCompletion: jsonSchema(ForceCompleteBodySchema),
        InvoiceStatus: jsonSchema(InvoiceStatusSchema),
        Problem: jsonSchema(ProblemSchema),
        // The state is a TypeScript interface of the workflow (zod stays out of its bundle): only its key is described.
        InvoiceState: {
          type: 'object',
          required: ['invoiceId', 'status'],
          properties: { invoiceId: { type: 'string' }, status: ref('InvoiceStatus') },
          additionalProperties: true,
        },
      },
    },
  };
}
