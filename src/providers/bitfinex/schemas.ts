import { z } from 'zod';

export const INVOICE_STATUSES = ['CREATED', 'PENDING', 'COMPLETED', 'EXPIRED'] as const;
export type BitfinexInvoiceStatus = (typeof INVOICE_STATUSES)[number];

/** Amounts are JSON numbers in the docs; a string is still read, in case the live API answers with one. */
const amount = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)]);

export const InvoiceSchema = z.looseObject({
  id: z.string().min(1),
  t: z.number(),
  type: z.string().nullish(),
  duration: z.number().nullish(),
  amount,
  currency: z.string().min(1),
  orderId: z.string(),
  payCurrencies: z.array(z.string()),
  webhook: z.string().nullish(),
  redirectUrl: z.string().nullish(),
  status: z.enum(INVOICE_STATUSES),
  customerInfo: z.looseObject({}).nullish(),
  invoices: z
    .array(
      z.looseObject({
        amount,
        // Seed 003 lists no currency per payable entry (only its pay and pool currencies): not required.
        currency: z.string().nullish(),
        payCurrency: z.string(),
        poolCurrency: z.string().nullish(),
        address: z.string().nullish(),
      }),
    )
    .nullish(),
  payment: z
    .looseObject({
      txid: z.string().nullish(),
      amount: amount.nullish(),
      currency: z.string().nullish(),
      method: z.string().nullish(),
      status: z.enum(['CREATED', 'PROCESSING', 'COMPLETED']).nullish(),
      confirmations: z.number().nullish(),
      depositId: z.number().nullish(),
      ledgerId: z.number().nullish(),
      forceCompleted: z.boolean().nullish(),
    })
    .nullish(),
});
export type BitfinexInvoice = z.output<typeof InvoiceSchema>;

export const InvoiceListSchema = z.array(InvoiceSchema);

export const InvoicePageSchema = z.looseObject({
  page: z.number(),
  pageSize: z.number(),
  totalPages: z.number(),
  totalItems: z.number(),
  items: z.array(InvoiceSchema),
});
export type BitfinexInvoicePage = z.output<typeof InvoicePageSchema>;

/** `{"error":"ERR_RATE_LIMIT"}` and `["error", code, "message"]`: the two shapes Bitfinex errors take. */
export const ErrorBodySchema = z.union([
  z.looseObject({ error: z.string(), message: z.string().nullish() }),
  z.tuple([z.literal('error'), z.number(), z.string()]).rest(z.unknown()),
]);

export interface CustomerInfoBody {
  nationality: string;
  residCountry: string;
  residState?: string;
  residCity: string;
  residZipCode: string;
  residStreet: string;
  fullName: string;
  email: string;
}

export interface CreateInvoiceBody {
  /** A JSON number, as the docs type it (see `amountOnTheWire`). */
  amount: number;
  currency: string;
  payCurrencies: string[];
  orderId: string;
  duration: number;
  webhook?: string;
  redirectUrl?: string;
  customerInfo?: CustomerInfoBody;
}
