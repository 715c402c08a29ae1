import { z } from 'zod';
import { DIRECTIONS, INVOICE_STATUSES, PROVIDER_NAMES, PROVIDER_STATUSES, RESOLVE_OUTCOMES } from './constants';
import { CURRENCY_CODES, type CurrencyCode } from './money';

const reference = z
  .string()
  .min(1)
  .max(60)
  .regex(/^[A-Za-z0-9_-]+$/, 'use letters, digits, "_" and "-" only (providers take it as a reference)');

const countryAlpha2 = z
  .string()
  .length(2)
  .regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 country code in upper case, e.g. "AR"');

export const CustomerSchema = z.object({
  id: z.string().min(1).max(64),
  firstName: z.string().min(1).max(100),
  lastName: z.string().min(1).max(100),
  email: z.email(),
  country: countryAlpha2,
  phone: z.string().min(5).max(20).optional(),
  address: z
    .object({
      street: z.string().min(1),
      city: z.string().min(1),
      zip: z.string().min(1),
      state: z.string().optional(),
    })
    .optional(),
  /** YYYY-MM-DD; alfred's KYC needs it. */
  birthday: z.iso.date().optional(),
  nationality: countryAlpha2.optional(),
});

export const PaymentMethodSchema = z.object({
  type: z.enum(['bank', 'atm', 'wallet', 'card_link', 'crypto']),
  /** The customer's wallet at the provider (Xprizo account id). */
  walletAccountId: z.string().min(1).optional(),
  /** Crypto currencies offered to the payer (Bitfinex Pay). */
  payCurrencies: z.array(z.string().min(2).max(12)).min(1).optional(),
});

export const BankAccountSchema = z.object({
  bankName: z.string().min(1),
  accountNumber: z.string().min(4).max(34),
  accountOwner: z.string().min(1),
  country: countryAlpha2,
  /** National id of the owner (alfred's DNI). */
  nationalId: z.string().min(1).optional(),
});

export const ApprovalSchema = z.object({
  required: z.boolean().default(false),
  /** Parties allowed to approve or reject; empty means any authenticated caller. */
  approvers: z.array(z.string().min(1)).default([]),
  /** How long the invoice may wait for a decision before it expires. */
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86400)
    .default(86400),
});

/**
 * What every provider needs. What one provider needs beyond it (alfred's KYC fields, Xprizo's wallet) is stated in
 * that provider's folder as its `requirements` and checked by the client before a workflow starts.
 */
export const InvoiceRequestSchema = z.object({
  invoiceId: reference,
  provider: z.enum(PROVIDER_NAMES),
  direction: z.enum(DIRECTIONS),
  amount: z
    .number()
    .int('amount is in integer minor units (12500 for 125.00 USD)')
    .positive()
    .max(Number.MAX_SAFE_INTEGER),
  currency: z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]], {
    error: 'an ISO 4217 alphabetic code we support, e.g. "USD"',
  }),
  description: z.string().min(1).max(200).optional(),
  customer: CustomerSchema,
  paymentMethod: PaymentMethodSchema.default({ type: 'bank' }),
  bank: BankAccountSchema.optional(),
  approval: ApprovalSchema.default({ required: false, approvers: [], timeoutSeconds: 86400 }),
  /** How long after submission the provider may take to settle before the invoice expires. */
  settlementTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86400)
    .default(86400),
  metadata: z.record(z.string().max(40), z.string().max(500)).default({}),
});

export type InvoiceRequest = z.output<typeof InvoiceRequestSchema>;
export type InvoiceRequestInput = z.input<typeof InvoiceRequestSchema>;
export type Customer = z.output<typeof CustomerSchema>;

export const DecisionSchema = z.object({
  by: z.string().min(1).max(100),
  reason: z.string().max(500).optional(),
});
export type Decision = z.output<typeof DecisionSchema>;

/** An operator's resolution of an invoice in NEEDS_REVIEW: what the provider shows happened, and why. */
export const ResolutionSchema = z.object({
  outcome: z.enum(RESOLVE_OUTCOMES),
  reason: z.string().trim().min(1).max(500),
  by: z.string().min(1).max(100),
});
export type Resolution = z.output<typeof ResolutionSchema>;

/** The fields of a completion by hand (Bitfinex's Complete Invoice), before the one-source rule. */
export const ForceCompletionFields = z.object({
  by: z.string().min(1).max(100),
  reason: z.string().max(500).optional(),
  /** The crypto the customer paid in: one of the invoice's pay currencies, as Bitfinex spells it (`BTC`, `UST-ETH`). */
  payCcy: z.string().regex(/^[A-Z0-9][A-Z0-9-]{1,15}$/, 'a Bitfinex pay currency, e.g. "BTC" or "UST-ETH"'),
  depositId: z.number().int().positive().optional(),
  ledgerId: z.number().int().positive().optional(),
});

/** Bitfinex links one payment to the invoice: a deposit or a ledger entry, never both. */
export function withOnePaymentSource<S extends z.ZodType<{ depositId?: number; ledgerId?: number }>>(schema: S) {
  return schema.refine((value) => (value.depositId === undefined) !== (value.ledgerId === undefined), {
    message: 'name exactly one of depositId and ledgerId',
    path: ['depositId'],
  });
}

export const ForceCompletionSchema = withOnePaymentSource(ForceCompletionFields);
export type ForceCompletion = z.output<typeof ForceCompletionSchema>;

export const ProviderEventSchema = z.object({
  eventId: z.string().min(1).max(200),
  status: z.enum(PROVIDER_STATUSES),
  providerRef: z.string().max(200).optional(),
  detail: z.string().max(500).optional(),
});

export const InvoiceStatusSchema = z.enum(INVOICE_STATUSES);

/** Renders a zod error as one line per field path, for CLI and log output. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
