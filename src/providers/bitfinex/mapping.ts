import type { ProviderStatus } from '../../domain/constants';
import type { InvoiceRequest } from '../../domain/invoice';
import { decimalToMinor, isCurrencyCode, minorToDecimal, type CurrencyCode } from '../../domain/money';
import { DEFAULT_PAY_CURRENCIES, DURATION_BOUNDS } from './constants';
import type { ProviderRecord, RecordStatus } from '../../domain/reconciliation';
import type { BitfinexInvoice, BitfinexInvoiceStatus, CreateInvoiceBody, CustomerInfoBody } from './schemas';

/** The Bitfinex `orderId` IS our invoiceId: a webhook's orderId names its invoice. */
export function bitfinexOrderId(invoiceId: string): string {
  return invoiceId;
}

export function invoiceDuration(settlementTimeoutSeconds: number): number {
  return Math.min(DURATION_BOUNDS.max, Math.max(DURATION_BOUNDS.min, Math.floor(settlementTimeoutSeconds)));
}

/** Bitfinex wants the customer's address for an e-commerce invoice; without one only a POS invoice can be made. */
export function customerInfo(invoice: InvoiceRequest): CustomerInfoBody | undefined {
  const { customer } = invoice;
  if (!customer.address) return undefined;
  return {
    nationality: customer.nationality ?? customer.country,
    residCountry: customer.country,
    ...(customer.address.state ? { residState: customer.address.state } : {}),
    residCity: customer.address.city,
    residZipCode: customer.address.zip,
    residStreet: customer.address.street,
    fullName: `${customer.firstName} ${customer.lastName}`,
    email: customer.email,
  };
}

/**
 * The docs type `amount` as a number, so it goes out as a JSON number. The decimal is built digit by digit from minor
 * units and only then read as a double: every amount with at most 15 significant digits reads back as the same decimal,
 * and JSON.stringify writes that shortest form, so the bytes on the wire are the exact decimal.
 */
export function amountOnTheWire(minor: number, currency: CurrencyCode): number {
  const decimal = minorToDecimal(minor, currency);
  const wire = Number(decimal);
  if (decimalToMinor(wire, currency) !== minor) {
    throw new RangeError(`${decimal} ${currency} has no exact JSON number; Bitfinex could not be sent it`);
  }
  return wire;
}

export interface CreateOptions {
  webhookUrl?: string;
  redirectUrl?: string;
  defaultPayCurrencies?: readonly string[];
}

export function createInvoiceBody(invoice: InvoiceRequest, options: CreateOptions = {}): CreateInvoiceBody {
  const body: CreateInvoiceBody = {
    amount: amountOnTheWire(invoice.amount, invoice.currency),
    currency: invoice.currency,
    payCurrencies: [...(invoice.paymentMethod.payCurrencies ?? options.defaultPayCurrencies ?? DEFAULT_PAY_CURRENCIES)],
    orderId: bitfinexOrderId(invoice.invoiceId),
    duration: invoiceDuration(invoice.settlementTimeoutSeconds),
  };
  if (options.webhookUrl) body.webhook = options.webhookUrl;
  const redirect = invoice.metadata.redirectUrl ?? options.redirectUrl;
  if (redirect) body.redirectUrl = redirect;
  const info = customerInfo(invoice);
  if (info) body.customerInfo = info;
  return body;
}

export function invoiceStatusToProviderStatus(status: BitfinexInvoiceStatus): ProviderStatus {
  switch (status) {
    case 'CREATED':
      return 'pending';
    case 'PENDING':
      // Bitfinex has seen the customer's payment; it is not final until enough confirmations.
      return 'paid';
    case 'COMPLETED':
      return 'settled';
    case 'EXPIRED':
      return 'expired';
    default: {
      const unreachable: never = status;
      throw new Error(`unknown Bitfinex invoice status ${String(unreachable)}`);
    }
  }
}

/** Minor units of a Bitfinex amount, or undefined if it is not one our currency table can hold exactly. */
export function amountToMinor(amount: number | string, currency: string): number | undefined {
  if (!isCurrencyCode(currency)) return undefined;
  try {
    return decimalToMinor(amount, currency);
  } catch {
    return undefined;
  }
}

export function checkoutUrl(invoiceId: string): string {
  return `https://pay.bitfinex.com/gateway/order/${encodeURIComponent(invoiceId)}`;
}

const RECORD_STATUS: Readonly<Record<BitfinexInvoiceStatus, RecordStatus>> = {
  CREATED: 'pending',
  // Seen but not confirmed: not settled yet.
  PENDING: 'pending',
  COMPLETED: 'settled',
  EXPIRED: 'expired',
};

/** One Bitfinex invoice as a reconciliation record; its `orderId` is our reference. */
export function reconciliationRecord(invoice: BitfinexInvoice): ProviderRecord {
  const amount = amountToMinor(invoice.amount, invoice.currency);
  return {
    providerRef: invoice.id,
    ourReference: invoice.orderId,
    ...(amount !== undefined ? { amount } : {}),
    currency: invoice.currency,
    status: RECORD_STATUS[invoice.status],
    createdAt: new Date(invoice.t).toISOString(),
    detail: `bitfinex invoice ${invoice.status}`,
  };
}
