import { z } from 'zod';

// alfred's Penny API, in alfred's own field names (typos included: they are the wire format).

/** Every answer is wrapped as {statusCode, message, data}. */
function envelope<T extends z.ZodType>(data: T) {
  return z.object({ statusCode: z.number().optional(), message: z.string().optional(), data });
}

/** my-info: the company data is undocumented; only the session uuid matters to us. */
export const MyInfoResponseSchema = envelope(
  z.looseObject({
    // UNCONFIRMED field name: the docs call the value "uuid" and later pass it as initial_transaction / businessInitTx.
    uuid: z.string().min(1),
  }),
);

export const LoginResponseSchema = envelope(z.object({ token: z.string().min(1), kyc: z.boolean() }));

export const KycUploadResponseSchema = envelope(z.unknown());

const UserBankSchema = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  bankName: z.string(),
  bankNumber: z.string(),
  bankAccountOwner: z.string(),
  countryCode: z.string().optional(),
  DNI: z.string().optional(),
});

const MethodOptionSchema = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  name: z.string(),
  img: z.string().optional(),
});

export const PaymentMethodResponseSchema = envelope(
  z.object({
    token: z.string().min(1),
    kyc: z.boolean(),
    userBanks: z.array(UserBankSchema).default([]),
    paymentsMethods: z
      .object({
        ATM: z.array(MethodOptionSchema).default([]),
        BANK: z
          .array(
            MethodOptionSchema.extend({
              to_deposit: z
                .array(
                  z.object({ account: z.string(), owner: z.string(), Id: z.string().optional(), bank: z.string() }),
                )
                .optional(),
            }),
          )
          .default([]),
      })
      .default({ ATM: [], BANK: [] }),
  }),
);
export type PaymentMethodData = z.output<typeof PaymentMethodResponseSchema>['data'];

/** update-bank nests a second envelope inside `data`. */
export const UpdateBankResponseSchema = envelope(envelope(UserBankSchema.extend({ active: z.boolean().optional() })));

export const SubmitResponseSchema = envelope(
  z.object({
    id: z.union([z.string(), z.number()]).transform(String),
    invoice: z.object({ id: z.union([z.string(), z.number()]).transform(String) }),
  }),
);

/** Both spellings appear in alfred's docs (GitBook "cancel", widget page "cancelled"). */
export const INVOICE_STATES = ['pending', 'approved', 'cancel', 'cancelled'] as const;
export type AlfredInvoiceState = (typeof INVOICE_STATES)[number];
/**
 * `method.status`: only pending and completed are documented; failed and reversed are guesses kept so that a failure
 * or a reversal of a completed payment is not misread.
 */
export const METHOD_STATES = ['pending', 'completed', 'failed', 'reversed'] as const;
export type AlfredMethodState = (typeof METHOD_STATES)[number];

const lowerEnum = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string()
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(values));

export const InvoiceSchema = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  estatus_invoice: lowerEnum(INVOICE_STATES),
  expire_invoice: z.boolean().default(false),
  balance: z.union([z.string(), z.number()]).optional(),
  currency: z.string().optional(),
  user: z.string().optional(),
  walletpay: z.string().optional(),
  /**
   * The secret Approval Invoice must carry. UNCONFIRMED where alfred hands it out; the sandbox shows it here, and the
   * client never keeps it in refs.
   */
  invoicehash: z.string().optional(),
  /** When the invoice was created; Consult All Invoices is filtered by it for a reconciliation window. */
  start_time: z.string().nullish(),
  method: z
    .object({
      id: z.union([z.string(), z.number()]).transform(String).optional(),
      transaction: z.string().optional(),
      status: lowerEnum(METHOD_STATES),
      /** The fiat side as alfred pays or collects it; numbers are strings in alfred's reports. */
      cash_amount: z.union([z.string(), z.number()]).transform(String).optional(),
      currency_pay: z.string().optional(),
      /** Our reference, where alfred keeps it (UNCONFIRMED, see UserTransactionSchema). */
      reference: z.string().nullish(),
    })
    .nullish(),
});
export const InvoiceResponseSchema = envelope(InvoiceSchema);
export type AlfredInvoice = z.output<typeof InvoiceSchema>;

/** Consult All Invoices: every invoice of our API key, newest first at the sandbox. */
export const AllInvoicesResponseSchema = envelope(z.array(InvoiceSchema));

export const UserTransactionSchema = z.object({
  invoiceId: z.union([z.string(), z.number()]).transform(String),
  type: z.enum(['in', 'out']),
  id: z.union([z.string(), z.number()]).transform(String),
  /** The initial-transaction uuid the transaction was submitted with. */
  transaction: z.string().optional(),
  status: z.string().optional(),
  /**
   * Our reference, sent in the submit body. UNCONFIRMED: alfred documents no reference field; the sandbox stores and
   * reports it. Against the real API the lookup falls back to `transaction` (the initial-transaction uuid).
   */
  reference: z.string().optional(),
});
export const UserTransactionsResponseSchema = envelope(z.array(UserTransactionSchema));
export type AlfredUserTransaction = z.output<typeof UserTransactionSchema>;

/** 422 body: the reasons name the fields. */
export const ValidationErrorSchema = z.object({
  statusCode: z.number().optional(),
  message: z.string().optional(),
  code: z.string().optional(),
  reasons: z
    .array(z.object({ message: z.string().optional(), path: z.string().optional(), validation: z.string().optional() }))
    .optional(),
});

/** The legacy customer webhook sent when a pay-out needs our approval. */
export const LegacyWebhookSchema = z.object({
  invoices: z.string().min(1),
  date_invoices: z.string().min(1),
  signature_invoices: z.string().min(1),
});
export type LegacyWebhook = z.output<typeof LegacyWebhookSchema>;

export const EVENT_TYPES = ['ONRAMP', 'OFFRAMP', 'KYC', 'KYB'] as const;
/**
 * Statuses of the newer webhook. KYC's list is documented; ON/OFFRAMP's is UNCONFIRMED, so the usual lifecycle words
 * are accepted too.
 */
export const EVENT_STATUSES = [
  'CREATED',
  'PENDING',
  'PROCESSING',
  'IN_REVIEW',
  'UPDATE_REQUIRED',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'EXPIRED',
  'REJECTED',
] as const;
export type AlfredEventStatus = (typeof EVENT_STATUSES)[number];

export const EventWebhookSchema = z.object({
  referenceId: z.string().min(1),
  eventType: z.enum(EVENT_TYPES),
  status: z
    .string()
    .transform((value) => value.toUpperCase())
    .pipe(z.enum(EVENT_STATUSES)),
  metadata: z.record(z.string(), z.unknown()).default({}),
});
export type EventWebhook = z.output<typeof EventWebhookSchema>;

// --- Reports and the quote (issue #12). Paths and some field names are UNCONFIRMED; see the client's options.

/** alfred writes amounts as decimal strings in the quote and as strings or numbers elsewhere. */
const decimal = z.union([z.string(), z.number()]).transform((value) => String(value).trim());

export const QuoteFeeSchema = z.object({ type: z.string(), amount: decimal, currency: z.string() });

/** Consult Quote: the answer names the quote (`quoteId`), both sides of the exchange, the rate, fees and expiry. */
export const QuoteSchema = z.object({
  quoteId: z.string().min(1),
  fromCurrency: z.string().min(1),
  toCurrency: z.string().min(1),
  fromAmount: decimal,
  toAmount: decimal,
  rate: decimal.optional(),
  fees: z.array(QuoteFeeSchema).default([]),
  /** ISO time; the quote is refused by submit-transaction after it. */
  expiration: z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'not a date'),
  chain: z.string().optional(),
  paymentMethodType: z.string().optional(),
});
/**
 * alfred's newer docs answer the quote without the {statusCode, message, data} envelope, the Penny API wraps every
 * answer in it: both are read, the envelope unwrapped.
 */
export const QuoteResponseSchema = z.union([
  z
    .object({ statusCode: z.number().optional(), message: z.string().optional(), data: QuoteSchema })
    .transform((wrapped) => wrapped.data),
  QuoteSchema,
]);
export type AlfredQuote = z.output<typeof QuoteSchema>;

export interface QuoteRequest {
  fromCurrency: string;
  toCurrency: string;
  /** Exactly one of the amounts: the side the caller fixes. */
  fromAmount?: string;
  toAmount?: string;
  chain?: string;
  paymentMethodType?: 'BANK' | 'ATM';
}

/** Consult Payment Wallet: where the crypto side of an invoice is paid, in the invoice's own field names. */
export const PaymentWalletSchema = z.object({
  walletpay: z.string(),
  memo: z.string().optional(),
  network: z.string().optional(),
  chain: z.string().optional(),
  balance: decimal.optional(),
  currency: z.string().optional(),
});
export const PaymentWalletResponseSchema = envelope(PaymentWalletSchema);
export type AlfredPaymentWallet = z.output<typeof PaymentWalletSchema>;

/** Approval Invoice's answer, as the seed shows it (202) and the widget page (200, "update invoice/transaction"). */
export const ApprovalResponseSchema = envelope(z.literal(true));
