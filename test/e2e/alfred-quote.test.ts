import { driveSample, gatewayClient, sampleRequest, waitUntil } from '../../src/dev/samples';
import { ALFRED_PAY_IN_NO_UNDO, ALFRED_REFS } from '../../src/providers/alfred/adapter';
import type { AlfredSandbox } from '../../src/providers/alfred/sandbox';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';

const SUBMIT = '/third-party-service/submit-transaction';

describe('alfred through the real worker, gateway and sandbox: the quote and the undo', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  const sandbox = () => stack.sandboxes.get<AlfredSandbox>('alfred').sandbox;

  it.each(['pay_out', 'pay_in'] as const)(
    "%s: the submit alfred recorded names the quote alfred issued, and the invoice shows that quote's amounts",
    async (direction) => {
      const invoiceId = uniqueId(`alfred_quote_${direction}`);
      const state = await driveSample(stack.api, { invoiceId, provider: 'alfred', direction });
      expect({ status: state.status, error: state.lastError }).toEqual({ status: 'COMPLETED', error: undefined });

      const submits = sandbox()
        .received('POST', new RegExp(`^${SUBMIT}$`))
        .filter((r) => (r.body as { reference?: unknown }).reference === state.reference);
      expect(submits).toHaveLength(1);
      const submit = submits[0];
      const exchangeId = (submit?.body as { exchangeId?: unknown }).exchangeId;
      const issued = sandbox().quote(String(exchangeId));
      // The quote is one the sandbox issued, alive when submit used it, and the one the invoice shows.
      expect(issued).toBeDefined();
      expect(issued?.expiresAt).toBeGreaterThan(submit?.at ?? Infinity);
      expect(exchangeId).toBe(state.providerRefs[ALFRED_REFS.quoteId]);
      expect(state.providerRefs).toMatchObject({
        [ALFRED_REFS.quoteFiatAmount]: '125.00',
        [ALFRED_REFS.quoteFiatCurrency]: 'USD',
        [ALFRED_REFS.quoteCryptoAmount]: direction === 'pay_out' ? '126.250000' : '123.750000',
        [ALFRED_REFS.quoteCryptoCurrency]: 'USDT',
      });
      expect((submit?.body as { amount?: unknown }).amount).toBe(125);
    },
  );

  it('a cancelled pay-in records that nothing could be undone, and sends alfred no Approval Invoice', async () => {
    const invoiceId = uniqueId('alfred_payin_cancel');
    const gateway = gatewayClient(stack.api);
    await gateway.create(sampleRequest({ invoiceId, provider: 'alfred', direction: 'pay_in', approvalRequired: true }));
    const waiting = await waitUntil(stack.api, invoiceId, (s) => s.status === 'AWAITING_APPROVAL');
    const alfredInvoiceId = String(waiting.providerRefs[ALFRED_REFS.invoiceId]);
    const cancelled = await gateway.decide(invoiceId, 'cancel', 'customer left');
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.compensations.map(({ step, action, outcome }) => ({ step, action, outcome }))).toEqual([
      { step: 'submit', action: ALFRED_PAY_IN_NO_UNDO, outcome: 'failed' },
    ]);
    expect(cancelled.compensations[0]?.detail).toMatch(/nothing could be undone/);
    expect(sandbox().received('PUT', new RegExp(`/invoice/${alfredInvoiceId}$`))).toEqual([]);
  });
});
