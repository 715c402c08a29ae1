import type { InvoiceClient } from '../../src/client';
import type { InvoiceStatus } from '../../src/domain/constants';
import type { InvoiceState } from '../../src/workflows/definitions';

/** Polls the invoice's `status` query until it reaches `status` (the workflow moves on its own; we only watch). */
export async function waitForStatus(
  invoices: InvoiceClient,
  invoiceId: string,
  status: InvoiceStatus | ((state: InvoiceState) => boolean),
  timeoutMs = 30_000,
): Promise<InvoiceState> {
  const matches = typeof status === 'function' ? status : (state: InvoiceState) => state.status === status;
  const deadline = Date.now() + timeoutMs;
  let last: InvoiceState | undefined;
  while (Date.now() < deadline) {
    try {
      last = await invoices.getInvoice(invoiceId);
      if (matches(last)) return last;
    } catch (error) {
      // Not there yet, or there but not able to answer yet (first task pending): both are "ask again".
      if (!(
        error instanceof Error && /not found|InvoiceNotFound|InvoiceNotReady/i.test(`${error.name} ${error.message}`)
      )) {
        throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`invoice ${invoiceId} did not reach ${String(status)}; last: ${JSON.stringify(last)}`);
}

export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
