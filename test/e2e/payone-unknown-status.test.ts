import { isFinalStatus } from '../../src/domain/constants';
import { gatewayClient, sampleRequest, sandboxCustomer, waitUntil } from '../../src/dev/samples';
import type { PayOneSandbox } from '../../src/providers/payone/sandbox';
import { tenantInvoiceKey } from '../../src/workflows/definitions';
import { TEST_TENANT } from '../support/access';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';

/**
 * PayOne's status words are UNCONFIRMED. One our table lacks must neither fail the invoice nor be taken for news: the
 * invoice keeps polling and shows the word, and the next status we can read moves it on.
 */
describe('a PayOne status word the alias table lacks, through the real worker, gateway and sandbox', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  it('keeps the invoice polling with the raw status in its details, and a later known status completes it', async () => {
    const payone = stack.sandboxes.get<PayOneSandbox>('payone').sandbox;
    const invoiceId = uniqueId('payone_unknown');
    const reference = tenantInvoiceKey(TEST_TENANT, invoiceId);
    const inquiries = () => payone.received(reference).filter((request) => request.op === 'inquireInvoice').length;
    payone.answerStatusAs(reference, 'ON_HOLD');
    const request = sampleRequest({ invoiceId, provider: 'payone', direction: 'pay_in', approvalRequired: false });
    await gatewayClient(stack.api).create(request);

    const seen = await waitUntil(
      stack.api,
      invoiceId,
      (s) => s.unrecognizedProviderStatus !== undefined || isFinalStatus(s.status),
    );
    expect(seen.status).toBe('SUBMITTED');
    expect(seen.unrecognizedProviderStatus?.status).toBe('ON_HOLD');
    expect(seen.waitingFor).toContain('payone answered "ON_HOLD", a status we cannot read');
    // Nothing was read into it: submit's "pending" stands, and no poll failed.
    expect(seen.providerStatus).toBe('pending');
    expect(seen.lastError).toBeUndefined();

    // Still polling: PayOne is asked again, and the invoice still waits with the word shown.
    const asked = inquiries();
    await eventually(() => inquiries() >= asked + 2, 30_000);
    const still = await gatewayClient(stack.api).get(invoiceId);
    expect(still.status).toBe('SUBMITTED');
    expect(still.unrecognizedProviderStatus?.status).toBe('ON_HOLD');

    payone.answerStatusAs(reference, undefined);
    await sandboxCustomer(stack.api).preAuthorizePayOne(invoiceId);
    const final = await waitUntil(stack.api, invoiceId, (s) => isFinalStatus(s.status));

    expect(final.status).toBe('COMPLETED');
    expect(final.unrecognizedProviderStatus).toBeUndefined();
    expect(final.transitions.map((t) => t.status)).toEqual(expect.arrayContaining(['APPROVED', 'COMPLETING']));
    expect(final.providerRefs.payoneRrn).toMatch(/^\d{30}$/);
    expect(payone.get(reference)?.status).toBe('completed');
  });
});
