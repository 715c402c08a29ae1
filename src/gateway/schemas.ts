import { z } from 'zod';
import { PROVIDER_NAMES } from '../domain/constants';
import { InvoiceRequestSchema, InvoiceStatusSchema } from '../domain/invoice';

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
