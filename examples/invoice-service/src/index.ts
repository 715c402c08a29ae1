import { Client, Connection } from '@temporalio/client';
import {
  createInvoiceClient,
  InvoiceError,
  invoiceDataConverter,
  isFinalStatus,
  type InvoiceRequestInput,
  type InvoiceState,
} from 'payment-orchestrator/client';
import { z } from 'zod';

/** Where the orchestrator's Temporal is and how its payloads are sealed: the same settings its workers run with. */
const EnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  // No default: a service must hold the workers' keys (for `npm start`'s stack, its published development key).
  PAYLOAD_ENCRYPTION_KEYS: z.string().min(1, "the orchestrator workers' keys, id:base64key,..."),
  INVOICE_TENANT: z.string().min(1).default('dev'),
  INVOICE_ID: z.string().min(1).default(`inv_example_${Date.now()}`),
  /** How long the invoice may take to reach its approval step before this service gives up. */
  APPROVAL_WAIT_SECONDS: z.coerce.number().int().positive().default(120),
});

/** An alfred pay-out: it runs KYC, payment method and bank, then waits for our approval before alfred pays. */
function payout(invoiceId: string): InvoiceRequestInput {
  return {
    invoiceId,
    provider: 'alfred',
    direction: 'pay_out',
    amount: 4200,
    currency: 'USD',
    description: 'refund from the invoice-service example',
    customer: {
      id: 'cus_example',
      firstName: 'Grace',
      lastName: 'Hopper',
      email: 'grace@example.com',
      country: 'AR',
      phone: '+5491100000001',
      address: { street: 'Av. de Mayo 500', city: 'Buenos Aires', zip: 'C1084' },
      birthday: '1986-12-09',
      nationality: 'AR',
    },
    paymentMethod: { type: 'bank' },
    bank: {
      bankName: 'Banco Nacion',
      accountNumber: '0110599520000007654321',
      accountOwner: 'Grace Hopper',
      country: 'AR',
      nationalId: '30765432',
    },
  };
}

async function untilAwaitingApproval(read: () => Promise<InvoiceState>, seconds: number): Promise<InvoiceState> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const state = await read();
    if (state.status === 'AWAITING_APPROVAL' || isFinalStatus(state.status)) return state;
    if (Date.now() > deadline) throw new Error(`still ${state.status} after ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function main(): Promise<number> {
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) process.stderr.write(`${issue.path.join('.')}: ${issue.message}\n`);
    return 2;
  }
  const env = parsed.data;
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  try {
    const client = new Client({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      dataConverter: invoiceDataConverter(env.PAYLOAD_ENCRYPTION_KEYS),
    });
    // This service creates the invoice; four-eyes lets only someone else approve it.
    const invoices = createInvoiceClient({ client, tenant: env.INVOICE_TENANT, principal: 'invoice-service' });

    const started = await invoices.startInvoice(payout(env.INVOICE_ID));
    process.stdout.write(`started ${started.invoiceId} (workflow ${started.workflowId})\n`);

    const waiting = await untilAwaitingApproval(
      () => invoices.getInvoice(started.invoiceId),
      env.APPROVAL_WAIT_SECONDS,
    );
    if (waiting.status === 'AWAITING_APPROVAL') {
      await invoices.approveInvoice(started.invoiceId, { by: 'ops@invoice-service', reason: 'example payout' });
      process.stdout.write(`approved ${started.invoiceId}\n`);
    }

    const final = await invoices.waitForResult(started.invoiceId);
    process.stdout.write(`${final.invoiceId} ${final.status}\n`);
    return final.status === 'COMPLETED' ? 0 : 1;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // The client's errors carry a stable `type` (InvalidInvoiceRequest, InvalidState, NotAllowed, ...).
    const type = error instanceof InvoiceError ? ` [${error.type}]` : '';
    process.stderr.write(`invoice-service${type}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
