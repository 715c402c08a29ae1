import { randomUUID } from 'node:crypto';
import type { InvoiceRequestInput } from '../../src/domain/invoice';

export function uniqueId(prefix = 'inv'): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

export function invoiceRequest(overrides: Partial<InvoiceRequestInput> = {}): InvoiceRequestInput {
  const direction = overrides.direction ?? 'pay_in';
  return {
    invoiceId: uniqueId(),
    provider: 'alfred',
    direction,
    amount: 12500,
    currency: 'USD',
    description: 'test invoice',
    customer: {
      id: 'cus_42',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      country: 'AR',
      phone: '+5491100000000',
      address: { street: 'Av. Corrientes 1234', city: 'Buenos Aires', zip: 'C1043' },
      birthday: '1990-12-10',
      nationality: 'AR',
    },
    paymentMethod: { type: 'bank' },
    bank: {
      bankName: 'Banco Nacion',
      accountNumber: '0110599520000001234567',
      accountOwner: 'Ada Lovelace',
      country: 'AR',
      nationalId: '30123456',
    },
    approval: { required: false, approvers: [], timeoutSeconds: 3600 },
    settlementTimeoutSeconds: 3600,
    ...overrides,
  };
}
