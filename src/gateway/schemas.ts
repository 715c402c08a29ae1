import { z } from 'zod';
import { PROVIDER_NAMES } from '../domain/constants';
import {
  DecisionSchema,
  ForceCompletionFields,
  InvoiceRequestSchema,
  InvoiceStatusSchema,
  ResolutionSchema,
  withOnePaymentSource,
} from '../domain/invoice';

/** A decision as the service API takes it: the deciding party is the caller, so `by` is at most a repetition. */
export const DecisionBodySchema = DecisionSchema.partial({ by: true });
export const ResolutionBodySchema = ResolutionSchema.partial({ by: true });
export const ForceCompleteBodySchema = withOnePaymentSource(ForceCompletionFields.partial({ by: true }));

/** Query parameters of `GET /v1/invoices`; the strings of a query string are coerced here, once. */
export const ListInvoicesQuerySchema = z
  .object({
    status: InvoiceStatusSchema.optional(),
    provider: z.enum(PROVIDER_NAMES).optional(),
    customerId: z.string().min(1).max(64).optional(),
    pageSize: z.coerce.number().int().min(1).max(500).optional(),
    pageToken: z.string().min(1).max(2000).optional(),
  })
  .strict();

export const InvoiceIdParamsSchema = z.object({ invoiceId: InvoiceRequestSchema.shape.invoiceId });

/** RFC 9457 problem details; `errors` names each invalid field by its path in the request. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

/**
 * The schemas the OpenAPI document names as components (`#/components/schemas/<id>`). A registry of our own rather than
 * zod's global one, so naming a schema for the document changes nothing else that renders it.
 */
export const documentedSchemas = z.registry<{ id: string; description?: string }>();

documentedSchemas.add(InvoiceRequestSchema, { id: 'InvoiceRequest' });
documentedSchemas.add(DecisionBodySchema, { id: 'Decision' });
documentedSchemas.add(ResolutionBodySchema, { id: 'Resolution' });
documentedSchemas.add(ForceCompleteBodySchema, { id: 'ForceCompletion' });
documentedSchemas.add(InvoiceStatusSchema, { id: 'InvoiceStatus' });
documentedSchemas.add(ProblemSchema, {
  id: 'Problem',
  description: 'RFC 9457 problem details; `type` is a stable token to switch on, `errors` names the invalid fields',
});

/**
 * The invoice's state is a TypeScript interface of the workflow (zod stays out of its bundle), so only its key fields
 * are described; loose, so the serializer passes every other field through unchanged.
 */
export const InvoiceStateSchema = z.looseObject({ invoiceId: z.string(), status: InvoiceStatusSchema });
documentedSchemas.add(InvoiceStateSchema, { id: 'InvoiceState' });

export const InvoicePageSchema = z.object({
  invoices: z.array(
    z.looseObject({
      invoiceId: z.string(),
      workflowId: z.string(),
      status: InvoiceStatusSchema.optional(),
      provider: z.enum(PROVIDER_NAMES).optional(),
    }),
  ),
  nextPageToken: z.string().optional(),
});

export const HealthSchema = z.object({ status: z.literal('ok') });
export const ReadinessSchema = z.object({
  status: z.enum(['ready', 'unavailable']),
  temporal: z.boolean(),
  worker: z.boolean().optional(),
});
