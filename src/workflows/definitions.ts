// The one module of workflow definitions: the workflow, the client library and the gateway all import it.
// It must stay free of zod and Node built-ins: the workflow bundle includes it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type {
  Direction,
  InvoiceStatus,
  ProviderMilestone,
  ProviderName,
  ProviderNegativeOutcome,
  ProviderStatus,
  StepName,
} from '../domain/constants';
import { RESOLVE_OUTCOMES, type ResolveOutcome } from '../domain/constants';
import type { CurrencyCode } from '../domain/money';
import type { Decision, InvoiceRequest } from '../domain/invoice';

export const TASK_QUEUES = {
  /** Workflows and every provider's activities but Bitfinex's. */
  invoices: 'invoices',
  /** Bitfinex activities only, so the server can hold them under Bitfinex's rate limit for all workers together. */
  bitfinex: 'invoices-bitfinex',
} as const;

export const INVOICE_WORKFLOW_TYPE = 'invoiceWorkflow';

const WORKFLOW_ID_PREFIX = 'invoice-';

export function invoiceWorkflowId(invoiceId: string): string {
  return `${WORKFLOW_ID_PREFIX}${invoiceId}`;
}

/**
 * The id a tenant's invoice goes by outside the tenant: in its workflow id and as the reference providers see. The
 * tenant id holds no `_`, so the first `_` ends it.
 */
export function tenantInvoiceKey(tenant: string | undefined, invoiceId: string): string {
  return tenant ? `${tenant}_${invoiceId}` : invoiceId;
}

/** The invoice id inside a workflow id made by `invoiceWorkflowId`. */
export function invoiceIdOf(workflowId: string): string {
  return workflowId.startsWith(WORKFLOW_ID_PREFIX) ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : workflowId;
}

/**
 * What the workflow does for one provider and direction, decided when the invoice starts and carried in its input so
 * that an invoice already running keeps the plan it began with even if the provider's integration changes.
 */
export interface InvoicePlan {
  kyc: boolean;
  paymentMethod: boolean;
  bank: boolean;
  /** A provider milestone to reach after submission and before the service's decision (PayOne's pre-authorization). */
  awaitBeforeApproval?: ProviderMilestone;
  /** The provider itself must be told of the approval (alfred pay-out: PUT invoice approved). */
  approveAtProvider: boolean;
  /** A completion call after approval (PayOne capture, Bitfinex manual complete). */
  complete: boolean;
  /** The milestone that means the money moved. */
  settledAt: ProviderMilestone;
}

export interface InvoiceTiming {
  /** Wait this long for a provider event before asking the provider directly. */
  pollAfterSeconds: number;
  pollInitialIntervalSeconds: number;
  pollMaxIntervalSeconds: number;
  /**
   * How long a provider call is retried before the workflow asks the provider what happened instead (30 minutes when
   * unset). Tests shorten it to reach the unknown-outcome path quickly.
   */
  providerCallBudgetSeconds?: number;
  /** History events after which a long wait continues in a new run (10,000 when unset; tests make it small). */
  historyBudgetEvents?: number;
}

/**
 * Production's timing: the first poll five minutes after a provider went quiet, then every 30 s growing to 30 min.
 * The configuration's defaults and a client created without `timing` both use it.
 */
export const DEFAULT_INVOICE_TIMING = {
  pollAfterSeconds: 300,
  pollInitialIntervalSeconds: 30,
  pollMaxIntervalSeconds: 1800,
} as const satisfies InvoiceTiming;

/** Who the invoice belongs to and who may approve it, fixed by the client when the invoice starts. */
export interface InvoiceAccess {
  tenant?: string;
  /** The principal that created the invoice: never one of its approvers. */
  createdBy?: string;
  /** Distinct approvals the invoice waits for before it moves on (the tenant's policy for its amount). */
  approvalsRequired: number;
}

export interface InvoiceWorkflowInput {
  request: InvoiceRequest;
  plan: InvoicePlan;
  timing: InvoiceTiming;
  /** Absent in invoices started before tenants and four-eyes approval existed. */
  access?: InvoiceAccess;
  /** Set when an earlier run of this invoice continued as new in the middle of a long wait. */
  carried?: CarriedInvoice;
  /** Set when the invoice records its events in the store's event log (a client whose gateway has a store). */
  eventLog?: InvoiceEventLog;
}

/** Where an invoice's events go: the tenant's log, under the id the tenant knows the invoice by. */
export interface InvoiceEventLog {
  /** The invoice's tenant, or UNTENANTED (src/domain/events.ts) for an invoice started without one. */
  tenant: string;
  /** The invoice id as its tenant names it: without the `<tenant>_` that starts its key. */
  invoiceId: string;
}

/**
 * How much of the invoice's state its published events cover: the next run of a continued invoice starts from it, so
 * that no event is recorded twice under another sequence and none is skipped.
 */
export interface EventLogMark {
  /** Events published so far: the last sequence used. */
  sequence: number;
  transitions: number;
  approvals: number;
  compensations: number;
  refusedRequests: number;
  /** The completion by hand last published, and the outcome it had then. */
  forcedCompletion?: { requestedAt: string; outcome: ForcedCompletion['outcome'] };
  resolution: boolean;
}

/** A long wait the workflow can resume in a fresh run: the wait for a provider before approval, or for settlement. */
export type ResumePhase = 'beforeApproval' | 'settlement';

/** What a run hands the next when its history grew past its budget during a long wait. */
export interface CarriedInvoice {
  resumeAt: ResumePhase;
  /** Workflow time (ms) at which the wait ends, and the poll interval it had reached. */
  deadline: number;
  pollIntervalMs: number;
  state: InvoiceState;
  seenEventIds: string[];
  heldEvents: ProviderEvent[];
  pendingCompensations: { step: StepName; action: string }[];
  milestoneRank: number;
  negative?: { outcome: ProviderNegativeOutcome; detail?: string };
  cancelRequest?: ApprovalRecord;
  answeredCallbacks: [string, 'accept' | 'reject'][];
  runs: number;
  /** What the earlier runs published to the event log, when the invoice records its events. */
  eventLog?: EventLogMark;
}

export interface Transition {
  status: InvoiceStatus;
  at: string;
  note?: string;
}

export interface StepError {
  step: StepName;
  type: string;
  message: string;
  at: string;
}

export interface CompensationRecord {
  step: StepName;
  action: string;
  outcome: 'done' | 'failed';
  detail?: string;
  at: string;
}

export interface ApprovalRecord {
  decision: 'approved' | 'rejected' | 'cancelled';
  by: string;
  reason?: string;
  at: string;
}

/** The whole state of an invoice, as the `status` query returns it. */
export interface InvoiceState {
  invoiceId: string;
  /** The id providers know the invoice by (`<tenant>_<invoiceId>`), set when a tenant reads its invoice. */
  reference?: string;
  provider: ProviderName;
  direction: Direction;
  amount: number;
  currency: CurrencyCode;
  customerId: string;
  status: InvoiceStatus;
  /** What the invoice is doing or waiting for now. */
  waitingFor?: string;
  transitions: Transition[];
  providerRefs: Record<string, string>;
  providerStatus?: ProviderStatus;
  /** The provider's last polled status word when its adapter could not read it; cleared by the next one it can. */
  unrecognizedProviderStatus?: { status: string; at: string };
  approval?: ApprovalRecord;
  /** Approvals given so far, while an invoice that needs several waits for the rest. */
  approvals?: { by: string; at: string }[];
  /** How many distinct approvals the invoice needs, when more than one. */
  approvalsRequired?: number;
  lastError?: StepError;
  /** For FAILED: the step that failed and why. */
  failure?: StepError;
  compensations: CompensationRecord[];
  eventsApplied: number;
  eventsIgnored: number;
  /** Events of another provider, another reference or other money: never applied. */
  eventsMismatched?: number;
  /** Set before the first call that moves money; from then on the invoice can no longer be rejected or cancelled. */
  pointOfNoReturn?: { step: StepName; at: string };
  /** Decisions refused after they were accepted by Temporal (a workflow cancellation past the point of no return). */
  refusedRequests?: { decision: 'cancel'; by: string; reason: string; at: string }[];
  /** Why the invoice waits in NEEDS_REVIEW. */
  review?: { step: StepName; reason: string; at: string };
  /** The operator's resolution of a NEEDS_REVIEW invoice. */
  resolution?: ResolveInput & { at: string };
  /** Set once an operator asked to complete the invoice by hand (`forceComplete`). */
  forcedCompletion?: ForcedCompletion;
}

/** An invoice as it is before anything happened to it: the workflow's first state, and the gateway's answer for an
 * invoice no worker has picked up yet. */
export function initialInvoiceState(request: InvoiceRequest, createdAt: string): InvoiceState {
  return {
    invoiceId: request.invoiceId,
    provider: request.provider,
    direction: request.direction,
    amount: request.amount,
    currency: request.currency,
    customerId: request.customer.id,
    status: 'CREATED',
    transitions: [{ status: 'CREATED', at: createdAt }],
    providerRefs: {},
    compensations: [],
    eventsApplied: 0,
    eventsIgnored: 0,
  };
}

/** A provider's webhook or callback, as the gateway delivers it. `eventId` deduplicates. */
export interface ProviderEvent {
  eventId: string;
  /**
   * The provider whose route verified the event. The workflow ignores (and counts) an event of another provider.
   * Optional only because events recorded in histories before it existed lack it; the gateway always sets it.
   */
  provider?: ProviderName;
  status: ProviderStatus;
  /**
   * The provider reference the event names, as a key of the invoice's `providerRefs` and its value. The workflow
   * applies the event only once it holds that same reference; the gateway always sets it.
   */
  ref?: { key: string; value: string };
  /** What the provider says the money is, when its event or API names it; the workflow ignores an event that differs. */
  money?: { amount: number; currency: string };
  /** Before `ref` existed: the provider's id of the object, kept for recorded histories. */
  providerRef?: string;
  detail?: string;
}

/** The validator of the callback Update refuses an event already answered with this prefix and the verdict given. */
export const ALREADY_ANSWERED = 'AlreadyAnswered';

/** The answer to a provider callback that waits for our verdict (Xprizo's payment callback). */
export interface CallbackVerdict {
  verdict: 'accept' | 'reject' | 'undecided';
  status: InvoiceStatus;
}

export type DecisionInput = Decision;

export { RESOLVE_OUTCOMES, type ResolveOutcome };

/** An operator's word on what happened at the provider, after looking. */
export interface ResolveInput {
  outcome: ResolveOutcome;
  reason: string;
  by: string;
}

export const approveUpdate = defineUpdate<InvoiceState, [DecisionInput]>('approve');
export const rejectUpdate = defineUpdate<InvoiceState, [DecisionInput]>('reject');
export const cancelUpdate = defineUpdate<InvoiceState, [DecisionInput]>('cancel');

export const approveSignal = defineSignal<[DecisionInput]>('approveSignal');
export const rejectSignal = defineSignal<[DecisionInput]>('rejectSignal');
export const cancelSignal = defineSignal<[DecisionInput]>('cancelSignal');

export const providerEventSignal = defineSignal<[ProviderEvent]>('providerEvent');
/** Delivers a provider event and waits (bounded by `waitSeconds`) for the invoice's verdict on it. */
export const providerCallbackUpdate = defineUpdate<CallbackVerdict, [ProviderEvent & { waitSeconds: number }]>(
  'providerCallback',
);

export const resolveUpdate = defineUpdate<InvoiceState, [ResolveInput]>('resolve');

/**
 * A webhook that proves nothing by itself (Bitfinex signs none) and only tells the invoice to look: the invoice fetches
 * its own object from the provider, through the provider's rate-limited queue, and acts on what the API says. `hint`
 * is what the webhook claimed, for the logs; nothing is decided on it.
 */
export interface ProviderLook {
  provider: ProviderName;
  hint?: string;
  /**
   * `reconciliation`: a provider's report disagrees with the invoice, which looks again whatever its provider; an
   * invoice waiting in NEEDS_REVIEW that finds its money settled completes. Absent: a provider's webhook (Bitfinex).
   */
  via?: 'webhook' | 'reconciliation';
}
export const providerLookSignal = defineSignal<[ProviderLook]>('providerLook');

export const statusQuery = defineQuery<InvoiceState>('status');

/** Validator refusals carry this prefix so callers can tell them from other update failures. */
export const INVALID_STATE = 'InvalidState';
export const NOT_ALLOWED = 'NotAllowed';

export const searchAttributes = {
  status: defineSearchAttributeKey('InvoiceStatus', SearchAttributeType.KEYWORD),
  provider: defineSearchAttributeKey('PaymentProvider', SearchAttributeType.KEYWORD),
  direction: defineSearchAttributeKey('InvoiceDirection', SearchAttributeType.KEYWORD),
  amount: defineSearchAttributeKey('InvoiceAmount', SearchAttributeType.INT),
  currency: defineSearchAttributeKey('InvoiceCurrency', SearchAttributeType.KEYWORD),
  customerId: defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD),
  tenantId: defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD),
  providerReferences: defineSearchAttributeKey('ProviderReferences', SearchAttributeType.KEYWORD_LIST),
  compensationFailed: defineSearchAttributeKey('CompensationFailed', SearchAttributeType.BOOL),
  reconciliationDifferences: defineSearchAttributeKey('ReconciliationDifferences', SearchAttributeType.INT),
} as const;

/** The visibility value that finds an invoice by one of its provider references. */
export function providerReferenceValue(key: string, value: string): string {
  return `${key}:${value}`;
}

/**
 * What an operator names to complete a waiting Bitfinex invoice by hand (Bitfinex's Complete Invoice): the crypto it
 * was paid in and the one deposit or ledger entry that paid it, which Bitfinex links to the invoice.
 */
export interface ForceCompleteInput {
  by: string;
  reason?: string;
  payCcy: string;
  depositId?: number;
  ledgerId?: number;
}

/** The record of a completion by hand, kept in the invoice's state: it was forced, by whom, and how it went. */
export interface ForcedCompletion extends ForceCompleteInput {
  forced: true;
  requestedAt: string;
  outcome: 'pending' | 'completed' | 'failed';
  at?: string;
  /** Whether the provider marks the completion as forced (Bitfinex's PAYMENT_FORCE_COMPLETED). */
  confirmedByProvider?: boolean;
  detail?: string;
}

/** Completes a Bitfinex invoice still waiting for its payment; answers with the state once the invoice has ended. */
export const forceCompleteUpdate = defineUpdate<InvoiceState, [ForceCompleteInput]>('forceComplete');

/** The provider refused a completion by hand, or could not be reached: the Update fails with this prefix. */
export const FORCE_COMPLETE_FAILED = 'ForceCompleteFailed';
