import { randomUUID } from 'node:crypto';
import { SAMPLE_BANK, SAMPLE_CUSTOMER } from '../../src/dev/samples';
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
    customer: SAMPLE_CUSTOMER,
    paymentMethod: { type: 'bank' },
    bank: SAMPLE_BANK,
    approval: { required: false, approvers: [], timeoutSeconds: 3600 },
    settlementTimeoutSeconds: 3600,
    ...overrides,
  };
}
