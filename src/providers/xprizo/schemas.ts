import { z } from 'zod';

/** Xprizo keys and ids arrive as numbers or strings depending on the endpoint; we keep them as strings. */
const idLike = z.union([z.string().min(1), z.number().int()]).transform((value) => String(value));

export const RequestPaymentResponseSchema = z.object({
  key: idLike,
  approveById: z.union([z.number(), z.string()]).nullish(),
  /** Seconds left before the request expires. */
  ttl: z.number().nullish(),
  expiryDate: z.string().nullish(),
});
export type RequestPaymentResponse = z.output<typeof RequestPaymentResponseSchema>;

/** The docs say "200 with the transaction key": a bare key or an object carrying it, so both are read. */
export const SendPaymentResponseSchema = z.union([
  idLike.transform((key) => ({ key })),
  z.looseObject({ key: idLike }),
]);

export const TRANSACTION_STATUSES = ['Active', 'Pending', 'Hold', 'Void', 'NotFound'] as const;
export const TransactionStatusSchema = z.enum(TRANSACTION_STATUSES);
export type XprizoTransactionStatus = z.output<typeof TransactionStatusSchema>;

/**
 * StatusByReference: the docs name only the status values. A bare status (text or JSON string) and an object with
 * the transaction's fields are both accepted; the fields, when present, let verification compare amounts.
 */
export const StatusByReferenceResponseSchema = z.union([
  TransactionStatusSchema.transform((status) => ({ status })),
  z.looseObject({
    status: TransactionStatusSchema,
    reference: z.string().nullish(),
    key: idLike.nullish(),
    transactionId: idLike.nullish(),
    amount: z.number().nullish(),
    currencyCode: z.string().nullish(),
  }),
]);
export type StatusByReferenceResponse = z.output<typeof StatusByReferenceResponseSchema>;

export const APPROVAL_STATUS_TYPES = [0, 1, 2, 3, 4] as const;
export type ApprovalStatusType = (typeof APPROVAL_STATUS_TYPES)[number];

const approvalStatusType = z.union(
  APPROVAL_STATUS_TYPES.map((value) => z.literal(value)) as [
    z.ZodLiteral<0>,
    z.ZodLiteral<1>,
    z.ZodLiteral<2>,
    z.ZodLiteral<3>,
    z.ZodLiteral<4>,
  ],
);

/** The approval webhook. Rejected (3) may carry a transaction with every field null. */
export const ApprovalWebhookSchema = z.looseObject({
  statusType: approvalStatusType,
  status: z.string().nullish(),
  description: z.string().nullish(),
  actionedById: z.number().nullish(),
  affectedContactIds: z.array(z.number()).nullish(),
  transaction: z
    .looseObject({
      id: z.number().int().nullish(),
      createdById: z.number().nullish(),
      type: z.string().nullish(),
      date: z.string().nullish(),
      reference: z.string().nullish(),
      currencyCode: z.string().nullish(),
      amount: z.number().nullish(),
    })
    .nullish(),
});
export type ApprovalWebhook = z.output<typeof ApprovalWebhookSchema>;

/** The payment callback for SendPayment with action=2 (seed 002). */
export const PaymentCallbackSchema = z.looseObject({
  id: z.number().int(),
  currencyCode: z.string().min(1),
  amount: z.number(),
  reference: z.string().min(1),
});
export type PaymentCallback = z.output<typeof PaymentCallbackSchema>;

/** Request bodies, in Xprizo's field names. */
export interface TransferBody {
  fromAccountId: number | string;
  toAccountId: number | string;
  reference: string;
  amount: number;
}

/** Error bodies: plain text, a JSON string, ErrorModel or ProblemDetails. */
export const ErrorBodySchema = z.union([
  z.string(),
  z.looseObject({
    message: z.string().nullish(),
    title: z.string().nullish(),
    detail: z.string().nullish(),
    error: z.string().nullish(),
  }),
]);
