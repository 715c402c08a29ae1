import { randomUUID } from 'node:crypto';
import { SAMPLE_BANK, SAMPLE_CUSTOMER, samplePaymentMethod } from '../../src/dev/samples';
import type { InvoiceRequestInput } from '../../src/domain/invoice';

export function uniqueId(prefix = 'inv'): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

/** A request its provider's requirements accept (the payment method follows the provider unless overridden). */
export function invoiceRequest(overrides: Partial<InvoiceRequestInput> = {}): InvoiceRequestInput {
  const direction = overrides.direction ?? 'pay_in';
  const provider = overrides.provider ?? 'alfred';
  return {
    invoiceId: uniqueId(),
    provider,
    direction,
    amount: 12500,
    currency: 'USD',
    description: 'test invoice',
    customer: SAMPLE_CUSTOMER,
    paymentMethod: samplePaymentMethod(provider),
    bank: SAMPLE_BANK,
    approval: { required: false, approvers: [], timeoutSeconds: 3600 },
    settlementTimeoutSeconds: 3600,
    ...overrides,
  };
}
