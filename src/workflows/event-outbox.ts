// The invoice's outbox of events: derived from its state and what was published before, so nothing has to remember to
// emit an event where the state changes. Pure and deterministic; it runs inside the workflow bundle.
import { invoiceEventId, transitionEventType, type NewInvoiceEvent } from '../domain/events';
import type { EventLogMark, InvoiceEventLog, InvoiceState } from './definitions';

export const EMPTY_EVENT_LOG_MARK: EventLogMark = {
  sequence: 0,
  transitions: 0,
  approvals: 0,
  compensations: 0,
  refusedRequests: 0,
  resolution: false,
};

/**
 * Events of one workflow time come in the order the flow makes them: decisions lead to undoing, undoing to the final
 * transition. Within one kind, the order they were recorded in the state.
 */
const RANK = {
  approval: 0,
  refusal: 1,
  forcedRequest: 2,
  resolution: 3,
  compensation: 4,
  forcedOutcome: 5,
  transition: 6,
} as const;

interface Candidate {
  type: string;
  at: string;
  rank: number;
  order: number;
  /** Set for a transition or a compensation: its index in the state's list. */
  transition?: number;
  compensation?: number;
}

/** True when the state holds something the mark does not cover: cheap enough for a `condition` to ask on every wake. */
export function hasUnpublishedEvents(state: InvoiceState, mark: EventLogMark): boolean {
  const forced = state.forcedCompletion;
  return (
    state.transitions.length > mark.transitions ||
    state.compensations.length > mark.compensations ||
    (state.refusedRequests?.length ?? 0) > mark.refusedRequests ||
    ((state.approvalsRequired ?? 1) > 1 && (state.approvals?.length ?? 0) > mark.approvals) ||
    (forced !== undefined &&
      (forced.requestedAt !== mark.forcedCompletion?.requestedAt ||
        forced.outcome !== mark.forcedCompletion?.outcome)) ||
    (state.resolution !== undefined && !mark.resolution)
  );
}

/**
 * The events the state holds beyond `mark`, numbered on from it, and the mark that covers them once recorded. Each
 * carries the invoice as the tenant reads it, its status and transitions (and undos) as of that event; the other fields
 * as they stand at publication.
 */
export function unpublishedEvents(
  state: InvoiceState,
  mark: EventLogMark,
  log: InvoiceEventLog,
): { events: NewInvoiceEvent[]; mark: EventLogMark } {
  const candidates: Candidate[] = [];
  const add = (candidate: Omit<Candidate, 'order'>) => candidates.push({ ...candidate, order: candidates.length });

  state.transitions.slice(mark.transitions).forEach((transition, index) =>
    add({
      type: transitionEventType(transition.status),
      at: transition.at,
      rank: RANK.transition,
      transition: mark.transitions + index,
    }),
  );
  const approvals = state.approvals ?? [];
  // A single approval is the APPROVED transition itself; only the steps toward several are events of their own.
  if ((state.approvalsRequired ?? 1) > 1) {
    for (const approval of approvals.slice(mark.approvals)) {
      add({ type: 'invoice.approval_recorded', at: approval.at, rank: RANK.approval });
    }
  }
  const refused = state.refusedRequests ?? [];
  for (const refusal of refused.slice(mark.refusedRequests)) {
    add({ type: 'invoice.cancel_refused', at: refusal.at, rank: RANK.refusal });
  }
  state.compensations.slice(mark.compensations).forEach((compensation, index) =>
    add({
      type: compensation.outcome === 'done' ? 'invoice.compensation_done' : 'invoice.compensation_failed',
      at: compensation.at,
      rank: RANK.compensation,
      compensation: mark.compensations + index,
    }),
  );
  const forced = state.forcedCompletion;
  if (forced) {
    const known = mark.forcedCompletion?.requestedAt === forced.requestedAt ? mark.forcedCompletion : undefined;
    if (!known) add({ type: 'invoice.forced_completion_requested', at: forced.requestedAt, rank: RANK.forcedRequest });
    if (forced.outcome !== 'pending' && known?.outcome !== forced.outcome) {
      add({
        type: `invoice.forced_completion_${forced.outcome}`,
        at: forced.at ?? forced.requestedAt,
        rank: RANK.forcedOutcome,
      });
    }
  }
  if (state.resolution && !mark.resolution) {
    add({ type: 'invoice.review_resolved', at: state.resolution.at, rank: RANK.resolution });
  }

  // Workflow times are ISO strings of one format, so they order as text.
  candidates.sort((a, b) => (a.at === b.at ? a.rank - b.rank || a.order - b.order : a.at < b.at ? -1 : 1));

  let transitionsSoFar = mark.transitions;
  let compensationsSoFar = mark.compensations;
  const events = candidates.map((candidate, index): NewInvoiceEvent => {
    if (candidate.transition !== undefined) transitionsSoFar = candidate.transition + 1;
    if (candidate.compensation !== undefined) compensationsSoFar = candidate.compensation + 1;
    const transitions = state.transitions.slice(0, Math.max(1, transitionsSoFar));
    const sequence = mark.sequence + index + 1;
    return {
      id: invoiceEventId(log.tenant, log.invoiceId, sequence),
      type: candidate.type,
      tenant: log.tenant,
      invoiceId: log.invoiceId,
      sequence,
      occurredAt: candidate.at,
      data: {
        invoice: {
          ...state,
          // The tenant's name for the invoice, as GET /v1/invoices/{id} shows it; the key providers see stays beside it.
          ...(log.invoiceId !== state.invoiceId ? { invoiceId: log.invoiceId, reference: state.invoiceId } : {}),
          status: transitions.at(-1)?.status ?? state.status,
          transitions,
          compensations: state.compensations.slice(0, compensationsSoFar),
        },
      },
    };
  });
  return {
    events,
    mark: {
      sequence: mark.sequence + events.length,
      transitions: state.transitions.length,
      approvals: approvals.length,
      compensations: state.compensations.length,
      refusedRequests: refused.length,
      ...(forced
        ? { forcedCompletion: { requestedAt: forced.requestedAt, outcome: forced.outcome } }
        : mark.forcedCompletion
          ? { forcedCompletion: mark.forcedCompletion }
          : {}),
      resolution: state.resolution !== undefined,
    },
  };
}
