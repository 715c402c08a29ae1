import { initialInvoiceState, type InvoiceState } from './definitions';
import { EMPTY_EVENT_LOG_MARK, hasUnpublishedEvents, unpublishedEvents } from './event-outbox';
import type { InvoiceRequest } from '../domain/invoice';

const LOG = { tenant: 'acme', invoiceId: 'inv_1' };
const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();

function invoice(): InvoiceState {
  const request = {
    invoiceId: 'acme_inv_1',
    provider: 'alfred',
    direction: 'pay_out',
    amount: 25_000,
    currency: 'USD',
    customer: { id: 'cus_1' },
  } as unknown as InvoiceRequest;
  return initialInvoiceState(request, at(0));
}

function move(state: InvoiceState, status: InvoiceState['status'], second: number): void {
  state.status = status;
  state.transitions.push({ status, at: at(second) });
}

describe('the invoice outbox', () => {
  it('numbers transitions from 1 under the tenant, each with the invoice as of it', () => {
    const state = invoice();
    move(state, 'KYC_PENDING', 0);
    move(state, 'KYC_APPROVED', 1);
    const { events, mark } = unpublishedEvents(state, EMPTY_EVENT_LOG_MARK, LOG);
    expect(events.map((e) => [e.sequence, e.type, e.data.invoice.status, e.data.invoice.transitions.length])).toEqual([
      [1, 'invoice.created', 'CREATED', 1],
      [2, 'invoice.kyc_pending', 'KYC_PENDING', 2],
      [3, 'invoice.kyc_approved', 'KYC_APPROVED', 3],
    ]);
    expect(events[0]).toMatchObject({ id: 'evt:acme:inv_1:1', tenant: 'acme', invoiceId: 'inv_1', occurredAt: at(0) });
    // The tenant's name for the invoice; the key providers see stays beside it.
    expect(events[0]?.data.invoice).toMatchObject({ invoiceId: 'inv_1', reference: 'acme_inv_1' });
    expect(hasUnpublishedEvents(state, mark)).toBe(false);
    expect(unpublishedEvents(state, mark, LOG).events).toEqual([]);

    move(state, 'SUBMITTED', 2);
    expect(hasUnpublishedEvents(state, mark)).toBe(true);
    const next = unpublishedEvents(state, mark, LOG);
    expect(next.events.map((e) => [e.sequence, e.type])).toEqual([[4, 'invoice.submitted']]);
    expect(next.mark.sequence).toBe(4);
  });

  it('orders decisions of one moment before the undo, and the undo before the transition they lead to', () => {
    const state = invoice();
    const { mark } = unpublishedEvents(state, EMPTY_EVENT_LOG_MARK, LOG);
    state.approvalsRequired = 2;
    state.approvals = [{ by: 'alice', at: at(6) }];
    state.refusedRequests = [{ decision: 'cancel', by: 'temporal-cancellation', reason: 'too late', at: at(6) }];
    state.compensations.push({ step: 'submit', action: 'cancel_transaction', outcome: 'done', at: at(6) });
    move(state, 'CANCELLED', 6);
    const { events } = unpublishedEvents(state, mark, LOG);
    expect(events.map((e) => e.type)).toEqual([
      'invoice.approval_recorded',
      'invoice.cancel_refused',
      'invoice.compensation_done',
      'invoice.cancelled',
    ]);
    // The undo's event shows it done while the invoice is still as it was; the transition shows both.
    expect(events[2]?.data.invoice).toMatchObject({ status: 'CREATED', compensations: [{ outcome: 'done' }] });
    expect(events[3]?.data.invoice.status).toBe('CANCELLED');
  });

  it('records a single approval only as the transition it makes', () => {
    const state = invoice();
    state.approvals = [{ by: 'alice', at: at(1) }];
    expect(unpublishedEvents(state, EMPTY_EVENT_LOG_MARK, LOG).events.map((e) => e.type)).toEqual(['invoice.created']);
  });

  it('follows a completion by hand through a failure and a second request', () => {
    const state = invoice();
    let { mark } = unpublishedEvents(state, EMPTY_EVENT_LOG_MARK, LOG);
    const first = { forced: true as const, by: 'alice', payCcy: 'BTC', depositId: 1, requestedAt: at(1) };
    state.forcedCompletion = { ...first, outcome: 'pending' };
    let batch = unpublishedEvents(state, mark, LOG);
    expect(batch.events.map((e) => e.type)).toEqual(['invoice.forced_completion_requested']);
    mark = batch.mark;
    state.forcedCompletion = { ...first, outcome: 'failed', at: at(2) };
    batch = unpublishedEvents(state, mark, LOG);
    expect(batch.events.map((e) => e.type)).toEqual(['invoice.forced_completion_failed']);
    mark = batch.mark;
    // A second request, completed before the outbox is read: both its events, in order.
    state.forcedCompletion = { ...first, depositId: 2, requestedAt: at(3), outcome: 'completed', at: at(4) };
    move(state, 'COMPLETED', 4);
    batch = unpublishedEvents(state, mark, LOG);
    expect(batch.events.map((e) => e.type)).toEqual([
      'invoice.forced_completion_requested',
      'invoice.forced_completion_completed',
      'invoice.completed',
    ]);
    expect(hasUnpublishedEvents(state, batch.mark)).toBe(false);
  });

  it("records a review's resolution once", () => {
    const state = invoice();
    move(state, 'NEEDS_REVIEW', 1);
    let { mark } = unpublishedEvents(state, EMPTY_EVENT_LOG_MARK, LOG);
    state.resolution = { outcome: 'COMPLETED', reason: 'seen in the back office', by: 'ops', at: at(2) };
    const batch = unpublishedEvents(state, mark, LOG);
    expect(batch.events.map((e) => e.type)).toEqual(['invoice.review_resolved']);
    mark = batch.mark;
    move(state, 'COMPLETED', 2);
    expect(unpublishedEvents(state, mark, LOG).events.map((e) => e.type)).toEqual(['invoice.completed']);
  });
});
