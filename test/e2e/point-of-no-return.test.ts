import { providerInvoice } from '../support/access';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Direction, ProviderName } from '../../src/domain/constants';
import { gatewayClient, HttpError, sampleRequest, sandboxCustomer, waitUntil } from '../../src/dev/samples';
import type { InvoiceState } from '../../src/workflows/definitions';
import { moneyAt, stopped } from '../support/ledger';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';

type Action = 'cancel' | 'reject' | 'temporal-cancel';
/** Before the money-moving call, while it is held open at the sandbox (or sent together with the approval), after it. */
type Moment = 'before' | 'during' | 'after';

interface Flow {
  name: string;
  provider: ProviderName;
  direction: Direction;
  /** The money-moving request, held open at the sandbox for "during"; Xprizo's is our answer to its callback. */
  moneyCall?: { method: string; path: RegExp };
}

const FLOWS: readonly Flow[] = [
  {
    name: 'alfred pay-out',
    provider: 'alfred',
    direction: 'pay_out',
    moneyCall: { method: 'PUT', path: /\/invoice\// },
  },
  {
    name: 'PayOne capture',
    provider: 'payone',
    direction: 'pay_in',
    moneyCall: { method: 'POST', path: /\/completeInvoice$/ },
  },
  { name: 'Xprizo held pay-out', provider: 'xprizo', direction: 'pay_out' },
];

const ACTIONS: readonly Action[] = ['cancel', 'reject', 'temporal-cancel'];
const MOMENTS: readonly Moment[] = ['before', 'during', 'after'];
describe('cancel, reject and a Temporal cancellation at every point of a money-moving flow', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  async function runCase(flow: Flow, action: Action, moment: Moment) {
    const gateway = gatewayClient(stack.api);
    const customer = sandboxCustomer(stack.api);
    const invoiceId = uniqueId(`ponr_${flow.provider}`);
    const request = sampleRequest({
      invoiceId,
      provider: flow.provider,
      direction: flow.direction,
      approvalRequired: true,
    });
    await gateway.create(request);
    if (flow.provider === 'payone') {
      await waitUntil(stack.api, invoiceId, (s) => s.status === 'SUBMITTED' || s.status === 'AWAITING_APPROVAL');
      await customer.preAuthorizePayOne(invoiceId);
    }
    await waitUntil(stack.api, invoiceId, (s) => s.status === 'AWAITING_APPROVAL' || stopped(s.status));

    const act = async (): Promise<'accepted' | 'refused'> => {
      if (action === 'temporal-cancel') {
        // Too late for Temporal itself when the invoice has already completed.
        return stack.env.invoices
          .handle(invoiceId)
          .cancel()
          .then(
            () => 'accepted' as const,
            (error: unknown) => {
              if (error instanceof WorkflowNotFoundError) return 'refused' as const;
              throw error;
            },
          );
      }
      try {
        await gateway.decide(invoiceId, action, `${action} at ${moment}`);
        return 'accepted';
      } catch (error) {
        if (error instanceof HttpError && error.status === 409) return 'refused';
        throw error;
      }
    };

    let answer: 'accepted' | 'refused';
    if (moment === 'before') {
      answer = await act();
    } else if (moment === 'during' && flow.moneyCall) {
      const held = stack.sandboxes.get(flow.provider).faults.hold(flow.moneyCall.method, flow.moneyCall.path);
      const approving = gateway.decide(invoiceId, 'approve');
      await held.reached;
      answer = await act();
      held.release();
      await approving;
    } else if (moment === 'during') {
      // No call of ours to hold: the decision races the approval, sent in the same instant.
      const [, acted] = await Promise.all([gateway.decide(invoiceId, 'approve').catch(() => undefined), act()]);
      answer = acted;
    } else {
      await gateway.decide(invoiceId, 'approve');
      await waitUntil(stack.api, invoiceId, (s) => s.status === 'AWAITING_SETTLEMENT' || stopped(s.status));
      answer = await act();
    }

    const final: InvoiceState = await waitUntil(stack.api, invoiceId, (s) => stopped(s.status));
    const atProvider = await stack.providers[flow.provider].fetchStatus({
      invoice: providerInvoice(request),
      refs: final.providerRefs,
      idempotencyKey: `${invoiceId}:check`,
    });
    return { final, answer, ledger: moneyAt(atProvider.status), providerStatus: atProvider.status };
  }

  for (const flow of FLOWS) {
    it(`${flow.name}: the final status agrees with the provider's ledger in every case`, async () => {
      const outcomes = [];
      for (const moment of MOMENTS) {
        for (const action of ACTIONS) {
          const { final, answer, ledger, providerStatus } = await runCase(flow, action, moment);
          outcomes.push({ moment, action, answer, status: final.status, ledger, providerStatus });
          // The invariant: COMPLETED exactly when the money moved; a cancelled or rejected invoice left nothing open.
          expect({ moment, action, status: final.status, ledger }).toEqual({
            moment,
            action,
            status: final.status,
            ledger: final.status === 'COMPLETED' ? 'moved' : 'not moved',
          });
          expect(['COMPLETED', 'CANCELLED', 'REJECTED']).toContain(final.status);
          if (moment === 'before') {
            expect(final.status).toBe(action === 'reject' ? 'REJECTED' : 'CANCELLED');
          }
          if (moment === 'after' || (moment === 'during' && flow.moneyCall)) {
            // Past the point of no return the money movement finishes and the request is refused, and recorded when
            // it came through Temporal.
            expect({ moment, action, status: final.status }).toEqual({ moment, action, status: 'COMPLETED' });
            if (action !== 'temporal-cancel') expect(answer).toBe('refused');
            // While the call is held the invoice is surely running, so the refused request is in its state. After
            // it, the cancellation may land as the workflow returns, too late to be recorded.
            else if (moment === 'during') expect(final.refusedRequests?.length).toBe(1);
          }
          const kind = flow.provider === 'payone' ? 'invoice' : 'transaction';
          expect(stack.sandboxes.get(flow.provider).counter.get(kind, final.reference ?? '')).toBe(1);
        }
      }
      console.log(`${flow.name}:\n${outcomes.map((o) => JSON.stringify(o)).join('\n')}`);
    });
  }
});
