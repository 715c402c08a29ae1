import { InvoiceRequestSchema, type InvoiceRequestInput } from '../../src/domain/invoice';
import type { StepInput, StepResult } from '../../src/providers/types';

let counter = 0;

/**
 * An alfred invoice as the workflow hands it to the adapter's first step: a customer alfred's KYC accepts and an
 * Argentine recipient bank. Ids are unique per call, so the sandbox sees a new user each time.
 */
export function alfredStepInput(prefix: string, overrides: Partial<InvoiceRequestInput> = {}): StepInput {
  const n = `${Date.now()}_${counter++}`;
  const invoice = InvoiceRequestSchema.parse({
    invoiceId: `${prefix}_${n}`,
    provider: 'alfred',
    direction: 'pay_out',
    amount: 12500,
    currency: 'USD',
    customer: {
      id: `${prefix}-cust-${n}`,
      firstName: 'Ana',
      lastName: 'Pérez',
      email: `${prefix}.${n}@example.com`,
      country: 'AR',
      phone: '+5491100000000',
      address: { street: 'Av. Corrientes 1', city: 'Buenos Aires', zip: 'C1043' },
      birthday: '1990-01-02',
    },
    bank: {
      bankName: 'Banco Nación',
      accountNumber: '0110000000000000000001',
      accountOwner: 'Ana Pérez',
      country: 'AR',
      nationalId: '30111222',
    },
    ...overrides,
  });
  return { invoice, refs: {}, idempotencyKey: `${invoice.invoiceId}:kyc` };
}

/** Runs a step as the workflow does: refs carried forward, a step-specific idempotency key. */
export async function runStep(
  input: StepInput,
  name: string,
  call: (input: StepInput) => Promise<StepResult | undefined> | undefined,
): Promise<StepResult> {
  const result = await call({ ...input, idempotencyKey: `${input.invoice.invoiceId}:${name}` });
  if (!result) throw new Error(`${name} is not a step of this adapter`);
  Object.assign(input.refs, result.refs);
  return result;
}
