import { z } from 'zod';
import { PAYONE_STATES } from './mapping';

// PayOne SmartLink's InvoicesService, in PayOne's field names. Only what the docs show is required; the rest is
// optional because the output of create and inquire is UNCONFIRMED.

const text = z.union([z.string(), z.number()]).transform(String);

/** Per-invoice result of createInvoice / createPreAuthInvoice. UNCONFIRMED shape; `status` success|failed assumed. */
export const CreateResponseSchema = z.object({
  invoicesDetails: z
    .array(
      z.object({
        invoiceID: text,
        status: z.string(),
        statusDescription: z.string().optional(),
        /** UNCONFIRMED name of the SmartLink payment URL. */
        paymentLink: z.string().optional(),
      }),
    )
    .min(1),
});

/** activateInvoice / deactivateInvoice: `status` is a sentence, e.g. "Invoice is activated successfully". */
export const ActivationResponseSchema = z.object({
  invoiceID: text.optional(),
  status: z.string(),
});

export const CompleteResponseSchema = z.object({
  invoicesDetails: z
    .array(
      z.object({
        invoiceID: text,
        amount: text.optional(),
        currency: text.optional(),
        status: z.string(),
        // The docs spell it both ways (statusDescreption in the table, statusDescription in the sample).
        statusDescription: z.string().optional(),
        statusDescreption: z.string().optional(),
        rrn: z.string().optional(),
      }),
    )
    .min(1),
});

/** inquireInvoice: rrn, approvalCode, cardType, cardNumber are documented; status and amounts are UNCONFIRMED. */
export const InquireResponseSchema = z.object({
  invoiceID: text,
  status: z.string(),
  amount: text.optional(),
  currency: text.optional(),
  /** Sandbox extra: what the customer pre-authorized. */
  authorizedAmount: text.optional(),
  rrn: z.string().optional(),
  approvalCode: z.string().optional(),
  cardType: z.string().optional(),
});
export type PayOneInquiry = z.output<typeof InquireResponseSchema>;

/** Error answers (HTTP 4xx). UNCONFIRMED: PayOne documents none; the sandbox answers this shape. */
export const ErrorResponseSchema = z.object({
  status: z.string().optional(),
  statusDescription: z.string().optional(),
});

/**
 * PAYONE_STATUS_ALIASES, once JSON-parsed: `{"<status PayOne answers>": "<our PayOne state>"}`. Each entry adds to or
 * overrides the built-in table (DEFAULT_STATUS_ALIASES); matching ignores case and surrounding blanks.
 */
export const StatusAliasesSchema = z
  .record(z.string(), z.enum(PAYONE_STATES, { error: `expected one of ${PAYONE_STATES.join(', ')}` }))
  .superRefine((table, ctx) => {
    for (const raw of Object.keys(table)) {
      if (raw.trim() === '') ctx.addIssue({ code: 'custom', path: [raw], message: 'a status must not be blank' });
    }
  });
