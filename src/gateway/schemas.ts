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
