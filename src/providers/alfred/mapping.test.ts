import { InvoiceRequestSchema } from '../../domain/invoice';
import {
  formatLegacyDate,
  kycLiteBody,
  mapEventStatus,
  mapInvoiceStatus,
  parseLegacyDate,
  reconciliationRecord,
  toAlfredAmount,
  toAlpha3,
  typeProcesor,
} from './mapping';
import { InvoiceResponseSchema, InvoiceSchema } from './schemas';
import invoiceFixture from './fixtures/invoice-approved.json';

const invoice = InvoiceRequestSchema.parse({
  invoiceId: 'inv_map_1',
  provider: 'alfred',
  direction: 'pay_out',
  amount: 12500,
  currency: 'USD',
  customer: {
    id: 'c1',
    firstName: 'Ana',
    lastName: 'Pérez',
    email: 'ana@example.com',
    country: 'AR',
    phone: '+5491100000000',
    address: { street: 'Av. Corrientes 1', city: 'Buenos Aires', zip: 'C1043' },
    birthday: '1990-01-02',
  },
  bank: { bankName: 'Banco', accountNumber: '0000003100010000000001', accountOwner: 'Ana Pérez', country: 'AR' },
});

describe('alfred mapping', () => {
  it('converts amounts for 0-, 2- and 3-decimal currencies without floats drifting', () => {
    expect(toAlfredAmount(12500, 'USD')).toBe(125);
    expect(toAlfredAmount(12501, 'USD')).toBe(125.01);
    expect(toAlfredAmount(500, 'JPY')).toBe(500);
    expect(toAlfredAmount(1250, 'KWD')).toBe(1.25);
    expect(toAlfredAmount(5, 'JOD')).toBe(0.005);
  });

  it('maps alpha-2 countries to ISO-3 and refuses unknown ones', () => {
    expect(toAlpha3('AR')).toBe('ARG');
    expect(toAlpha3('mx')).toBe('MEX');
    expect(toAlpha3('ZZ')).toBeUndefined();
  });

  it('builds the KYC-lite body with alfred field names', () => {
    expect(kycLiteBody(invoice, 'uuid-1', 'ARG')).toEqual({
      firstname: 'Ana',
      lastname: 'Pérez',
      address: 'Av. Corrientes 1',
      country: 'ARG',
      city: 'Buenos Aires',
      email: 'ana@example.com',
      phonenumber: '+5491100000000',
      initial_transaction: 'uuid-1',
      zipcode: 'C1043',
      birthday: '1990-01-02',
    });
    expect(typeProcesor(invoice)).toBe('BANK');
  });

  it('maps invoice states per direction, with money movement and cancellation winning', () => {
    const base = { id: 'i1', estatus_invoice: 'pending' as const, expire_invoice: false, method: null };
    expect(mapInvoiceStatus(base, 'pay_in')).toBe('pending');
    expect(mapInvoiceStatus(base, 'pay_out')).toBe('approval_requested');
    expect(mapInvoiceStatus({ ...base, estatus_invoice: 'approved' }, 'pay_out')).toBe('approved');
    expect(mapInvoiceStatus({ ...base, estatus_invoice: 'cancel' }, 'pay_out')).toBe('cancelled');
    expect(mapInvoiceStatus({ ...base, estatus_invoice: 'cancelled', expire_invoice: true }, 'pay_in')).toBe(
      'cancelled',
    );
    expect(mapInvoiceStatus({ ...base, expire_invoice: true }, 'pay_in')).toBe('expired');
    expect(mapInvoiceStatus({ ...base, estatus_invoice: 'approved', method: { status: 'completed' } }, 'pay_in')).toBe(
      'settled',
    );
  });

  it('parses a recorded GET invoice answer', () => {
    const parsed = InvoiceResponseSchema.parse(invoiceFixture);
    expect(mapInvoiceStatus(parsed.data, 'pay_out')).toBe('settled');
  });

  it('maps the newer webhook statuses', () => {
    expect(mapEventStatus('COMPLETED')).toBe('settled');
    expect(mapEventStatus('FAILED')).toBe('failed');
    expect(mapEventStatus('IN_REVIEW')).toBe('pending');
    expect(mapEventStatus('CANCELLED')).toBe('cancelled');
  });

  it('reads both legacy date formats and writes one it reads back', () => {
    expect(parseLegacyDate('2023-09-25 17:28:03-0000')).toBe(Date.parse('2023-09-25T17:28:03Z'));
    expect(parseLegacyDate('2023-09-25 13:48:20.890-0400')).toBe(Date.parse('2023-09-25T17:48:20.890Z'));
    expect(parseLegacyDate('yesterday')).toBeUndefined();
    const now = Date.parse('2024-02-03T04:05:06.789Z');
    expect(parseLegacyDate(formatLegacyDate(now))).toBe(now);
  });

  it("reads Consult All Invoices for reconciliation: the fiat side is the invoice's money, in minor units", () => {
    const view = (method: Record<string, unknown> | null, extra: Record<string, unknown> = {}) =>
      InvoiceSchema.parse({
        id: 'alf-1',
        estatus_invoice: 'approved',
        expire_invoice: false,
        balance: '124.875',
        currency: 'USDT',
        start_time: '2026-11-01T10:00:00.000Z',
        method,
        ...extra,
      });
    const completed = { status: 'completed', cash_amount: '125', currency_pay: 'USD', reference: 'acme_inv_1' };
    expect(reconciliationRecord(view(completed))).toEqual({
      providerRef: 'alf-1',
      ourReference: 'acme_inv_1',
      amount: 12500,
      currency: 'USD',
      status: 'settled',
      createdAt: '2026-11-01T10:00:00.000Z',
      detail: 'estatus_invoice=approved method=completed',
    });
    expect(reconciliationRecord(view({ ...completed, status: 'REVERSED' })).status).toBe('reversed');
    expect(reconciliationRecord(view({ ...completed, status: 'pending' }, { estatus_invoice: 'cancel' })).status).toBe(
      'cancelled',
    );
    expect(reconciliationRecord(view(null, { estatus_invoice: 'pending', expire_invoice: true })).status).toBe(
      'expired',
    );
    // More decimals than USD has: unknown, never rounded into a false match.
    expect(reconciliationRecord(view({ ...completed, cash_amount: '125.005' })).amount).toBeUndefined();
  });
});
