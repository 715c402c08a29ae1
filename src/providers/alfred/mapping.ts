import type { Direction, ProviderStatus } from '../../domain/constants';
import type { InvoiceRequest } from '../../domain/invoice';
import { decimalToMinor, isCurrencyCode, minorToDecimal } from '../../domain/money';
import type { ProviderRecord, RecordStatus } from '../../domain/reconciliation';
import type { AlfredEventStatus, AlfredInvoice, AlfredInvoiceState, AlfredMethodState } from './schemas';

/** alfred wants ISO 3166-1 alpha-3; our requests carry alpha-2. The table covers alfred's markets and more. */
const ALPHA3: Readonly<Record<string, string>> = {
  AR: 'ARG',
  BO: 'BOL',
  BR: 'BRA',
  CL: 'CHL',
  CO: 'COL',
  CR: 'CRI',
  DO: 'DOM',
  EC: 'ECU',
  GT: 'GTM',
  HN: 'HND',
  MX: 'MEX',
  NI: 'NIC',
  PA: 'PAN',
  PE: 'PER',
  PY: 'PRY',
  SV: 'SLV',
  UY: 'URY',
  VE: 'VEN',
  US: 'USA',
  CA: 'CAN',
  PR: 'PRI',
  CU: 'CUB',
  JM: 'JAM',
  HT: 'HTI',
  TT: 'TTO',
  BZ: 'BLZ',
  GY: 'GUY',
  SR: 'SUR',
  ES: 'ESP',
  PT: 'PRT',
  FR: 'FRA',
  DE: 'DEU',
  IT: 'ITA',
  GB: 'GBR',
  IE: 'IRL',
  NL: 'NLD',
  BE: 'BEL',
  LU: 'LUX',
  CH: 'CHE',
  AT: 'AUT',
  SE: 'SWE',
  NO: 'NOR',
  DK: 'DNK',
  FI: 'FIN',
  PL: 'POL',
  CZ: 'CZE',
  GR: 'GRC',
  RO: 'ROU',
  HU: 'HUN',
  TR: 'TUR',
  JO: 'JOR',
  AE: 'ARE',
  SA: 'SAU',
  KW: 'KWT',
  BH: 'BHR',
  OM: 'OMN',
  QA: 'QAT',
  EG: 'EGY',
  IL: 'ISR',
  LB: 'LBN',
  IN: 'IND',
  CN: 'CHN',
  JP: 'JPN',
  KR: 'KOR',
  SG: 'SGP',
  PH: 'PHL',
  ID: 'IDN',
  TH: 'THA',
  VN: 'VNM',
  MY: 'MYS',
  AU: 'AUS',
  NZ: 'NZL',
  ZA: 'ZAF',
  NG: 'NGA',
  KE: 'KEN',
  MA: 'MAR',
};

/** undefined when the table lacks the country: the caller refuses rather than sending a guess. */
export function toAlpha3(alpha2: string): string | undefined {
  return ALPHA3[alpha2.toUpperCase()];
}

/** alfred takes amounts as JSON numbers in major units; the conversion goes through the digits, never a float sum. */
export function toAlfredAmount(amount: number, currency: InvoiceRequest['currency']): number {
  return Number(minorToDecimal(amount, currency));
}

export function myInfoType(direction: Direction): 'in' | 'out' {
  return direction === 'pay_in' ? 'in' : 'out';
}

/** Processor for submit-transaction: ATM pays out a QR code to withdrawlPhone; everything else goes by bank. */
export function typeProcesor(invoice: InvoiceRequest): 'ATM' | 'BANK' {
  return invoice.paymentMethod.type === 'atm' ? 'ATM' : 'BANK';
}

export type KycLiteBody = Record<
  | 'firstname'
  | 'lastname'
  | 'address'
  | 'country'
  | 'city'
  | 'email'
  | 'phonenumber'
  | 'initial_transaction'
  | 'zipcode'
  | 'birthday',
  string
>;

/** Missing customer fields go as empty strings on purpose: alfred's 422 names them, which is the refusal we report. */
export function kycLiteBody(invoice: InvoiceRequest, initialTransaction: string, country3: string): KycLiteBody {
  const customer = invoice.customer;
  return {
    firstname: customer.firstName,
    lastname: customer.lastName,
    address: customer.address?.street ?? '',
    country: country3,
    city: customer.address?.city ?? '',
    email: customer.email,
    phonenumber: customer.phone ?? '',
    initial_transaction: initialTransaction,
    zipcode: customer.address?.zip ?? '',
    birthday: customer.birthday ?? '',
  };
}

function invoiceState(state: AlfredInvoiceState, direction: Direction): ProviderStatus {
  switch (state) {
    case 'pending':
      // A submitted pay-out waits on our PUT approved (alfred has sent, or will send, the customer webhook).
      return direction === 'pay_out' ? 'approval_requested' : 'pending';
    case 'approved':
      return 'approved';
    case 'cancel':
    case 'cancelled':
      return 'cancelled';
    default: {
      const unreachable: never = state;
      throw new Error(`unmapped alfred invoice state ${String(unreachable)}`);
    }
  }
}

function methodState(state: AlfredMethodState): ProviderStatus | undefined {
  switch (state) {
    case 'pending':
      return undefined;
    case 'completed':
      return 'settled';
    case 'failed':
      return 'failed';
    case 'reversed':
      // A running invoice that meets a reversal has no money to wait for; reconciliation reports the reversal itself.
      return 'failed';
    default: {
      const unreachable: never = state;
      throw new Error(`unmapped alfred method state ${String(unreachable)}`);
    }
  }
}

/**
 * One status from GET invoice/{id}. Money that moved wins over every flag; then a cancellation; then expiry (an
 * expired invoice still reads "pending"); then the invoice state.
 */
export function mapInvoiceStatus(invoice: AlfredInvoice, direction: Direction): ProviderStatus {
  const method = invoice.method ? methodState(invoice.method.status) : undefined;
  if (method) return method;
  const state = invoiceState(invoice.estatus_invoice, direction);
  if (state === 'cancelled') return state;
  if (invoice.expire_invoice) return 'expired';
  return state;
}

/** The newer webhook's status; undefined for statuses that say nothing new about the money (still in progress). */
export function mapEventStatus(status: AlfredEventStatus): ProviderStatus | undefined {
  switch (status) {
    case 'CREATED':
    case 'PENDING':
    case 'PROCESSING':
    case 'IN_REVIEW':
    case 'UPDATE_REQUIRED':
      return 'pending';
    case 'COMPLETED':
      return 'settled';
    case 'FAILED':
      return 'failed';
    case 'CANCELLED':
      return 'cancelled';
    case 'EXPIRED':
      return 'expired';
    case 'REJECTED':
      return 'rejected';
    default: {
      const unreachable: never = status;
      throw new Error(`unmapped alfred event status ${String(unreachable)}`);
    }
  }
}

/**
 * The legacy webhook's date, "2023-09-25 17:28:03-0000" or "2023-09-25 13:48:20.890-0400", as epoch ms; undefined
 * when it does not parse (the verifier then refuses it as stale rather than trusting it).
 */
export function parseLegacyDate(value: string): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!match) return undefined;
  const [, date, time, zone = 'Z'] = match;
  const offset = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const parsed = Date.parse(`${date}T${time}${offset}`);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** The legacy date format, for the sandbox: milliseconds and a -0000 offset. */
export function formatLegacyDate(epochMs: number): string {
  return `${new Date(epochMs).toISOString().replace('T', ' ').replace('Z', '')}-0000`;
}

/** What Consult All Invoices says became of one invoice, in reconciliation's words. */
export function recordStatus(invoice: AlfredInvoice): RecordStatus {
  switch (invoice.method?.status) {
    case 'completed':
      return 'settled';
    case 'reversed':
      return 'reversed';
    case 'failed':
      return 'failed';
    default:
      break;
  }
  if (invoice.estatus_invoice === 'cancel' || invoice.estatus_invoice === 'cancelled') return 'cancelled';
  return invoice.expire_invoice ? 'expired' : 'pending';
}

/**
 * One alfred invoice as a reconciliation record: the fiat side (`cash_amount`, `currency_pay`) is the invoice's money;
 * `balance` is the crypto side, which a quote priced and we never book.
 */
export function reconciliationRecord(invoice: AlfredInvoice): ProviderRecord {
  const method = invoice.method;
  const currency = method?.currency_pay;
  let amount: number | undefined;
  if (method?.cash_amount !== undefined && currency !== undefined && isCurrencyCode(currency)) {
    try {
      amount = decimalToMinor(method.cash_amount, currency);
    } catch {
      // More decimals than the currency has: shown as unknown rather than rounded into a false match.
      amount = undefined;
    }
  }
  return {
    providerRef: invoice.id,
    ...(method?.reference ? { ourReference: method.reference } : {}),
    ...(amount !== undefined ? { amount } : {}),
    ...(currency !== undefined ? { currency } : {}),
    status: recordStatus(invoice),
    ...(invoice.start_time ? { createdAt: invoice.start_time } : {}),
    detail: `estatus_invoice=${invoice.estatus_invoice} method=${method?.status ?? 'none'}${invoice.expire_invoice ? ' expired' : ''}`,
  };
}
