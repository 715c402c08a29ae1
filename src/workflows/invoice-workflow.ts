import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  metricMeter,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { InvoiceActivities } from '../activities';
import {
  isFinalStatus,
  isNegativeOutcome,
  PROVIDER_MILESTONES,
  type InvoiceStatus,
  type ProviderMilestone,
  type ProviderNegativeOutcome,
  type ProviderStatus,
  type StepName,
} from '../domain/constants';
import { stampOf } from '../domain/clock';
import { eventsNotRecorded, type CarriedEvents, type EventsNotRecorded, type NewInvoiceEvent } from '../domain/events';
import { WORKER_METRICS } from '../domain/metric-names';
import type { CompensationInput, StatusResult, StepInput, StepResult } from '../providers/types';
import { FAILURE_TYPES } from '../errors';
import { EMPTY_EVENT_LOG_MARK, hasUnpublishedEvents, unpublishedEvents } from './event-outbox';
import {
  ALREADY_ANSWERED,
  approveSignal,
  approveUpdate,
  cancelSignal,
  cancelUpdate,
  FORCE_COMPLETE_FAILED,
  forceCompleteUpdate,
  initialInvoiceState,
  INVALID_STATE,
  NOT_ALLOWED,
  providerCallbackUpdate,
  providerEventSignal,
  providerLookSignal,
  providerReferenceValue,
  rejectSignal,
  rejectUpdate,
  resolveUpdate,
  RESOLVE_OUTCOMES,
  searchAttributes,
  statusQuery,
  TASK_QUEUES,
  type ApprovalRecord,
  type CarriedInvoice,
  type CallbackVerdict,
  type DecisionInput,
  type EventLogMark,
  type ForceCompleteInput,
  type ForcedCompletion,
  type InvoiceState,
  type InvoiceWorkflowInput,
  type ProviderEvent,
  type ProviderLook,
  type ResolveInput,
  type ResumePhase,
} from './definitions';

/**
 * The money-safety release: events scoped to their provider and reference, a recorded point of no return, a Temporal
 * cancellation turned into a cancel request, unknown outcomes asked of the provider (NEEDS_REVIEW when it cannot say),
 * a callback answered once, and handlers finished before the workflow returns. Histories recorded before it replay
 * the earlier behaviour.
 */
export const MONEY_SAFETY_PATCH = 'money-safety-1';
/** Approvals by principals: the creator never approves, and a tenant's policy may ask for two distinct approvers. */
export const FOUR_EYES_PATCH = 'four-eyes-1';
/** A status poll the provider answered with a word its adapter cannot read: shown on the invoice, polling goes on. */
export const PAYONE_UNKNOWN_PATCH = 'payone-unknown-1';
/** An operator completes a waiting Bitfinex invoice by hand (Complete Invoice); the invoice records that it was forced. */
export const BITFINEX_COMPLETE_PATCH = 'bitfinex-complete-1';
/**
 * Bitfinex's webhook is verified by the invoice itself: the gateway only signals it to look, and the fetch runs as an
 * activity on the rate-limited Bitfinex queue, so every request to Bitfinex is one the queue's rate counts.
 */
export const BITFINEX_VERIFY_PATCH = 'bitfinex-verify-1';
/**
 * The invoice records its transitions and decisions in the store's event log (`input.eventLog`), published at the
 * points where it already writes its search attributes. Invoices started without `eventLog` never ask for the marker.
 */
export const EVENT_LOG_PATCH = 'event-log-1';
/**
 * The events due before a provider step travel with the step's activity, which records them before its call, instead
 * of in a local activity of their own: the workflow task that schedules the step (an approval's, whose Update is
 * answered when that task ends) no longer waits on the store, and no longer bills a local activity for it.
 */
export const EVENT_FOLD_PATCH = 'event-fold-1';
/**
 * Reconciliation's nudge: a look at the provider for an invoice of any provider, and a NEEDS_REVIEW invoice completed
 * when the look finds its money settled (the provider settled after polling had ended, and sent no webhook).
 */
export const RECONCILIATION_NUDGE_PATCH = 'reconciliation-nudge-1';
/**
 * What the first run of a workflow task can see differently from its replay, which the invoice no longer depends on;
 * a history that does not replay stalls its invoice at the next rebuild of the run.
 * - Time. Decisions about time (is a deadline past, when does a wait wake) read a clock made of recorded data only: the
 *   run's start, the alarms that rang, and the times activities put in their answers. The SDK's `Date` is the current
 *   task's time on replay, but not always the first time: a worker that rebuilt the run to answer a query can read the
 *   previous task's time. `Date` still stamps what is shown.
 * - Local activities. The SDK ends a workflow task while a local activity runs when a query comes with the task or the
 *   activity outlasts the task's heartbeat, and hands the answer to a later task after that task's Updates, where
 *   replay hands both over at once; a task whose local activity had answered also timed out with the worker's state
 *   kept. The recorder and the setup steps run as ordinary activities: their answers are events of their own.
 */
export const REPLAY_SAFE_PATCH = 'replay-safe-1';

/**
 * A provider call that should answer in seconds. Transient faults are retried with backoff capped at 30 s, for up to
 * 30 minutes in all: a step that makes several calls (alfred's KYC signs in, then files) meets every fault of each, so
 * the cap is on time, not on attempts. Refusals are non-retryable and end the step at once.
 */
const PROVIDER_CALL: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '30 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/**
 * KYC, payment method and bank register or look up data at the provider under our idempotency reference, so running
 * one twice is harmless. They run first as local activities: no task-queue round trip and no history events of their
 * own, and the three of them share one workflow task. A few quick attempts only; a step still failing after them moves
 * to an ordinary activity (PROVIDER_CALL), whose retries the UI shows and whose status is indexed first. Invoices
 * started since REPLAY_SAFE_PATCH run them as ordinary activities from the start.
 */
const LOCAL_FIRST: LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '2 seconds',
    maximumAttempts: 3,
  },
};

/**
 * Recording the invoice's new events in the store. Retried until it succeeds, however long the store is away: the
 * invoice then waits at its next step rather than go on without its events, because a skipped event would be a hole
 * in every subscriber's log for good, while a late one is only late. A repeat is harmless: the log keeps the first
 * record of each sequence. A local activity for invoices started before REPLAY_SAFE_PATCH, an ordinary one since.
 * Attempts stay at most 10 s apart, so a store that comes back releases its invoices within seconds.
 */
const EVENT_RECORDING: LocalActivityOptions & ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

/** One look at the provider's status while polling; the polling loop itself is the retry. */
const STATUS_POLL: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 3 },
};

/**
 * A call that creates something at the provider or moves money: it heartbeats, so a dead worker is noticed in seconds,
 * and a cancellation of its scope waits for the call to finish rather than leaving it running behind the workflow's back.
 */
const MONEY_CALL: ActivityOptions = {
  ...PROVIDER_CALL,
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** Steps whose failure leaves the provider's state unknown: something may have been created or money may have moved. */
const MONEY_STEPS: readonly StepName[] = ['submit', 'approveAtProvider', 'complete'];

/**
 * A completion by hand: an operator waits for the answer, so a passing outage is retried for minutes, not half an hour.
 * The call looks before it completes, so a retry never completes twice.
 */
const FORCE_COMPLETE_CALL: ActivityOptions = { ...MONEY_CALL, scheduleToCloseTimeout: '2 minutes' };

/** Undoing something at the provider must not give up on a passing outage: retried for up to a day. */
const COMPENSATION: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
};

type Outcome =
  | { kind: 'reached' }
  | { kind: 'negative'; outcome: ProviderNegativeOutcome; detail?: string }
  | { kind: 'cancelled' }
  | { kind: 'timeout' };

/** Events whose reference the invoice does not hold yet (a webhook that overtook our call's answer); bounded. */
const MAX_HELD_EVENTS = 20;

/**
 * What an activity failed with. An ordinary activity's failure arrives wrapped in an ActivityFailure; a local
 * activity's arrives as the failure itself.
 */
function activityCause(error: unknown): unknown {
  return error instanceof ActivityFailure && error.cause ? error.cause : error;
}

/** The provider said no (a non-retryable failure): retrying elsewhere would get the same answer. */
function isRefusal(error: unknown): boolean {
  const failure = activityCause(error);
  return failure instanceof ApplicationFailure && failure.nonRetryable === true;
}

/** Ends the invoice from deep inside the flow; caught once at the top. */
class InvoiceEnded extends Error {
  constructor(
    readonly status: Exclude<InvoiceStatus, 'COMPLETED' | 'NEEDS_REVIEW'>,
    readonly step: StepName,
    readonly reason: string,
    readonly failureType?: string,
  ) {
    super(reason);
  }
}

/** Ends the flow in NEEDS_REVIEW: the provider's state could not be settled, and only an operator can. */
class NeedsReview extends Error {
  constructor(
    readonly step: StepName,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** A long wait whose history passed its budget: the invoice goes on in a new run, from this wait. */
class ContinueInNewRun extends Error {
  constructor(
    readonly resumeAt: ResumePhase,
    readonly deadline: number,
    readonly pollIntervalMs: number,
  ) {
    super(`continue as new at ${resumeAt}`);
  }
}

/** Well below the server's 50,000-event limit, and small enough that replaying a run stays quick. */
const HISTORY_BUDGET_EVENTS = 10_000;

/** Stands in the undo list for a creation whose answer has not come back yet (see `runStep`). */
const SUBMIT_INTENT = 'undo-what-submit-created';

/** The deciding party recorded for a cancellation requested through Temporal (the UI's button, `handle.cancel()`). */
const TEMPORAL_CANCEL_PARTY = 'temporal-cancellation';

const NEGATIVE_TO_STATUS: Record<ProviderNegativeOutcome, 'REJECTED' | 'CANCELLED' | 'EXPIRED' | 'FAILED'> = {
  rejected: 'REJECTED',
  cancelled: 'CANCELLED',
  expired: 'EXPIRED',
  failed: 'FAILED',
};

export async function invoiceWorkflow(input: InvoiceWorkflowInput): Promise<InvoiceState> {
  const { request, plan, timing } = input;
  const safe = patched(MONEY_SAFETY_PATCH);
  // Invoices started before principals existed carry no `access`, and keep deciding as they always did.
  const access = input.access && patched(FOUR_EYES_PATCH) ? input.access : undefined;
  // Workflow time: inside the SDK's sandbox `Date` is the time of the current workflow task; what is shown uses it.
  const nowMs = () => new Date().getTime();
  const now = () => new Date(nowMs()).toISOString();
  const replaySafe = patched(REPLAY_SAFE_PATCH);
  /** The latest time the history itself proves (see REPLAY_SAFE_PATCH). */
  let provenMs = workflowInfo().startTime.getTime();
  function observe(at: number | undefined): void {
    if (at !== undefined && at > provenMs) provenMs = at;
  }
  /** The time a decision is taken on: the proven time, or for invoices started before it, the task's time. */
  const decisionMs = () => (replaySafe ? provenMs : nowMs());

  const state: InvoiceState = initialInvoiceState(request, now());
  if (access && access.approvalsRequired > 1) state.approvalsRequired = access.approvalsRequired;

  const queue = request.provider === 'bitfinex' ? TASK_QUEUES.bitfinex : TASK_QUEUES.invoices;
  // Every call names its own options and summary through executeWithOptions; these are only the defaults.
  const calls = proxyActivities<InvoiceActivities>({ ...PROVIDER_CALL, taskQueue: queue });
  const localCalls = proxyLocalActivities<InvoiceActivities>(LOCAL_FIRST);
  // The recorder on the general queue when it is an ordinary activity (REPLAY_SAFE_PATCH).
  const recorder = replaySafe
    ? proxyActivities<InvoiceActivities>({ ...EVENT_RECORDING, taskQueue: TASK_QUEUES.invoices })
    : proxyLocalActivities<InvoiceActivities>(EVENT_RECORDING);
  // A local activity skips the task queue, and with it the server-side rate limit of Bitfinex's queue.
  const localFirstAllowed = queue === TASK_QUEUES.invoices && !replaySafe;

  /** Newest last; run newest first. */
  const pendingCompensations: { step: StepName; action: string }[] = [];
  const seenEventIds = new Set<string>();
  let milestoneRank = 0;
  let negative: { outcome: ProviderNegativeOutcome; detail?: string } | undefined;
  let cancelRequest: ApprovalRecord | undefined;
  let currentStep: StepName = 'kyc';
  const heldEvents: ProviderEvent[] = [];
  const answeredCallbacks = new Map<string, 'accept' | 'reject'>();
  let callbacksWaiting = 0;

  let indexedStatus: InvoiceStatus = 'CREATED';
  let indexedRefs = 0;
  let indexedCompensationFailed = false;

  const carried = input.carried;
  if (carried) {
    // A run continued from an earlier one: everything it knew, and the search attributes it had already written.
    Object.assign(state, carried.state);
    carried.seenEventIds.forEach((id) => seenEventIds.add(id));
    heldEvents.push(...carried.heldEvents);
    pendingCompensations.push(...carried.pendingCompensations);
    milestoneRank = carried.milestoneRank;
    negative = carried.negative;
    cancelRequest = carried.cancelRequest;
    carried.answeredCallbacks.forEach(([id, verdict]) => answeredCallbacks.set(id, verdict));
    indexedStatus = state.status;
    indexedRefs = Object.keys(state.providerRefs).length;
    indexedCompensationFailed = state.compensations.some((c) => c.outcome === 'failed');
  }
  const historyBudget = timing.historyBudgetEvents ?? HISTORY_BUDGET_EVENTS;

  // Asked only of invoices that record events, so that every history without `eventLog` replays without the marker.
  const eventLog = input.eventLog && patched(EVENT_LOG_PATCH) ? input.eventLog : undefined;
  // Likewise asked only of invoices that record events.
  const foldEvents = eventLog !== undefined && patched(EVENT_FOLD_PATCH);
  let eventMark: EventLogMark = carried?.eventLog ?? EMPTY_EVENT_LOG_MARK;
  /** A publication under way: the recorder's local activity, or a provider step carrying events. */
  let publishing: Promise<void> | undefined;
  /**
   * Events handed to a provider step whose activity has not said it recorded them (it failed, or is still running).
   * Their numbers are taken: the next publication records them again, first, and a repeat is harmless.
   */
  let unconfirmed: NewInvoiceEvent[] | undefined;
  const eventsWaiting = () =>
    eventLog !== undefined && !publishing && (unconfirmed !== undefined || hasUnpublishedEvents(state, eventMark));

  /**
   * Records what happened since the last publication, in one local activity, and returns once it is recorded. One
   * publication at a time: a second caller waits for the first, then publishes whatever is still new. Never cancelled
   * half-way: the events describe what already happened, whatever the invoice is asked next.
   */
  async function publish(): Promise<void> {
    if (!eventLog) return;
    const log = eventLog;
    for (;;) {
      if (publishing) {
        await publishing;
        continue;
      }
      const batch = unpublishedEvents(state, eventMark, log);
      const retried = unconfirmed;
      const events = retried ? [...retried, ...batch.events] : batch.events;
      if (events.length === 0) {
        eventMark = batch.mark;
        return;
      }
      const recording = CancellationScope.nonCancellable(() =>
        recorder.recordInvoiceEvents.executeWithOptions(
          {
            ...EVENT_RECORDING,
            summary: `record ${events.map((event) => event.type.replace(/^invoice\./, '')).join(', ')}`,
          },
          [{ events }],
        ),
      );
      publishing = recording.then((recorded) => {
        observe(stampOf(recorded));
        eventMark = batch.mark;
        if (unconfirmed === retried) unconfirmed = undefined;
      });
      try {
        await publishing;
      } finally {
        publishing = undefined;
      }
    }
  }

  function transition(status: InvoiceStatus, note?: string): void {
    if (state.status === status) return;
    state.status = status;
    state.transitions.push(note ? { status, at: now(), note } : { status, at: now() });
    if (isFinalStatus(status)) waiting(undefined);
  }

  /**
   * Writes the status, and any provider references learned since the last write, to the search attributes in one
   * upsert (one billable action). The two ways out of a workflow task call it, `ordinary` (an activity) and `waitUntil`
   * (a wait), and so does the end of the workflow: the index holds the status of every point the server ever sees, and
   * the transitions made inside one workflow task (a submission whose webhook is already in; before REPLAY_SAFE_PATCH,
   * the three local setup steps) cost one upsert instead of one each. A transition alone does not write.
   */
  function index(): void {
    const refs = Object.entries(state.providerRefs);
    const compensationFailed =
      safe && !indexedCompensationFailed && state.compensations.some((c) => c.outcome === 'failed');
    if (state.status === indexedStatus && refs.length === indexedRefs && !compensationFailed) return;
    const update: SearchAttributeUpdatePair[] = [{ key: searchAttributes.status, value: state.status }];
    if (compensationFailed) {
      update.push({ key: searchAttributes.compensationFailed, value: true });
      indexedCompensationFailed = true;
    }
    if (refs.length !== indexedRefs) {
      update.push({
        key: searchAttributes.providerReferences,
        value: refs.map(([key, value]) => providerReferenceValue(key, value)),
      });
    }
    indexedStatus = state.status;
    indexedRefs = refs.length;
    upsertSearchAttributes(update);
  }

  /**
   * One durable timer serves every wait. A wait that must wake no later than the alarm already set rides on it instead
   * of starting its own timer (each started timer is a billable action), so the happy path, whose waits all end well
   * before the first poll is due, starts a single timer. A wait woken early by an alarm meant for an earlier wait
   * simply sets its own.
   */
  let alarm: { at: number; scope: CancellationScope } | undefined;
  let alarmsRung = 0;

  function setAlarm(at: number): void {
    if (alarm && alarm.at <= at) return;
    alarm?.scope.cancel();
    const mine = { at, scope: new CancellationScope() };
    alarm = mine;
    mine.scope
      .run(() => sleep(at - decisionMs()))
      .then(
        () => {
          if (alarm === mine) alarm = undefined;
          observe(at);
          alarmsRung++;
        },
        // Cancelled: a nearer alarm replaced this one, or the workflow itself was cancelled.
        () => undefined,
      );
  }

  /** Waits until `done()` or workflow time `wakeAt`, whichever is first; true if `done()`. */
  async function waitUntil(done: () => boolean, wakeAt: number): Promise<boolean> {
    index();
    if (eventLog) await publish();
    while (!done()) {
      if (decisionMs() >= wakeAt) return false;
      setAlarm(wakeAt);
      const rung = alarmsRung;
      // A decision that does not end the wait (one approval of two, a refused cancellation) is published as it comes.
      await condition(() => done() || alarmsRung !== rung || eventsWaiting());
      // One that ends it goes with the next step (EVENT_FOLD_PATCH): an Update that decided it is answered sooner.
      if (eventLog && !(foldEvents && done())) await publish();
    }
    return true;
  }

  function waiting(what: string | undefined): void {
    state.waitingFor = what;
    const refused = (state.refusedRequests ?? []).map((r) => `\n\nrefused: ${r.decision} by ${r.by} (${r.reason})`);
    const forced = state.forcedCompletion;
    if (forced) refused.push(`\n\ncompletion by hand (forced) by ${forced.by}: ${forced.outcome}`);
    setCurrentDetails(
      (what ? `**${state.status}** · step \`${currentStep}\` · waiting for ${what}` : `**${state.status}**`) +
        refused.join(''),
    );
  }

  function applyProviderStatus(status: ProviderStatus | undefined, detail?: string): void {
    if (!status) return;
    state.providerStatus = status;
    if (isNegativeOutcome(status)) {
      negative ??= { outcome: status, detail };
    } else {
      milestoneRank = Math.max(milestoneRank, PROVIDER_MILESTONES[status]);
    }
  }

  function mergeRefs(refs: Record<string, string> | undefined): void {
    if (!refs) return;
    Object.assign(state.providerRefs, refs);
    // An event held for a reference we did not know yet may name one of these.
    for (const event of heldEvents.splice(0)) applyEvent(event);
  }

  /**
   * Why an event is not this invoice's, or 'unknown reference' while the invoice does not hold the reference the event
   * names yet. The gateway checks the same before it delivers; this is the workflow's own guard.
   */
  function mismatchOf(event: ProviderEvent): string | undefined {
    if (event.provider !== request.provider) return `an event of ${String(event.provider)}`;
    if (event.money && (event.money.amount !== request.amount || event.money.currency !== request.currency)) {
      return 'other money';
    }
    if (!event.ref) return 'no provider reference';
    const held = state.providerRefs[event.ref.key];
    if (held === undefined) return 'unknown reference';
    return held === event.ref.value ? undefined : 'another reference';
  }

  /** Applies an event once, whenever it arrives; a wait that comes later finds its milestone already reached. */
  function applyEvent(event: ProviderEvent): 'applied' | 'duplicate' | 'held' | 'mismatched' {
    if (seenEventIds.has(event.eventId)) {
      state.eventsIgnored++;
      return 'duplicate';
    }
    if (safe) {
      const mismatch = mismatchOf(event);
      if (mismatch === 'unknown reference') {
        if (heldEvents.length >= MAX_HELD_EVENTS || heldEvents.some((e) => e.eventId === event.eventId)) {
          state.eventsIgnored++;
          return 'duplicate';
        }
        heldEvents.push(event);
        return 'held';
      }
      if (mismatch) {
        state.eventsMismatched = (state.eventsMismatched ?? 0) + 1;
        log.warn('provider event ignored: not this invoice', { invoiceId: request.invoiceId, mismatch });
        return 'mismatched';
      }
    }
    seenEventIds.add(event.eventId);
    state.eventsApplied++;
    if (event.providerRef) state.providerRefs.lastEventRef = event.providerRef;
    applyProviderStatus(event.status, event.detail);
    return 'applied';
  }

  function stepInput(step: StepName): StepInput {
    return { invoice: request, refs: { ...state.providerRefs }, idempotencyKey: `${request.invoiceId}:${step}` };
  }

  async function runStep(
    step: StepName,
    summary: string,
    call: (input: StepInput) => Promise<StepResult>,
  ): Promise<StepResult> {
    currentStep = step;
    waiting(summary);
    // The undo is registered before the call that creates something, so that nothing it created can be forgotten.
    const intent = safe && step === 'submit' ? { step, action: SUBMIT_INTENT } : undefined;
    if (intent) pendingCompensations.push(intent);
    const settleIntent = (action: string | undefined) => {
      if (!intent) return;
      pendingCompensations.splice(pendingCompensations.indexOf(intent), 1);
      if (action) pendingCompensations.push({ step, action });
    };
    try {
      const result = await call(stepInput(step));
      mergeRefs(result.refs);
      applyProviderStatus(result.providerStatus);
      if (intent) settleIntent(result.compensation);
      else if (result.compensation) pendingCompensations.push({ step, action: result.compensation });
      return result;
    } catch (error) {
      if (isCancellation(error)) throw error;
      const cause = activityCause(error);
      const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
      const message = cause instanceof Error ? cause.message : String(cause);
      state.lastError = { step, type, message, at: now() };
      if (safe && MONEY_STEPS.includes(step) && !isRefusal(error)) {
        // Retries ran out without an answer: the provider may have done it. Its own word decides, not our timeout.
        const found = await askAfterUnknown(step, message, type);
        settleIntent(found.compensation);
        return { refs: found.refs, providerStatus: found.status, note: 'found at the provider after the call failed' };
      }
      // A refusal: the provider said no, so it created nothing.
      settleIntent(undefined);
      throw new InvoiceEnded('FAILED', step, message, type);
    }
  }

  /**
   * After a creating or money-moving call ran out of retries: asks the provider what became of it. An object found is
   * followed (its references and status kept, its undo registered); nothing found after a creation means nothing was
   * created, so FAILED is safe; anything less certain ends in NEEDS_REVIEW for an operator.
   */
  async function askAfterUnknown(step: StepName, message: string, type: string): Promise<StatusResult> {
    waiting(`${request.provider} to say what became of ${step}`);
    let found: StatusResult;
    try {
      found = await askProvider(`ask ${request.provider} what became of ${step}`, step);
    } catch (error) {
      if (isCancellation(error)) throw error;
      const cause = activityCause(error);
      if (step === 'submit' && cause instanceof ApplicationFailure && cause.type === FAILURE_TYPES.notFound) {
        throw new InvoiceEnded('FAILED', step, `${message}; ${request.provider} has no record of it`, type);
      }
      throw new NeedsReview(step, `${step} failed (${message}) and ${request.provider} could not say what happened`);
    }
    mergeRefs(found.refs);
    applyProviderStatus(found.status, found.detail);
    if (step === 'submit' || isNegativeOutcome(found.status)) return found;
    const moved = step === 'approveAtProvider' ? reached('approved') : reached('settled');
    if (moved) return found;
    throw new NeedsReview(step, `${step} failed (${message}) and ${request.provider} reports ${found.status}`);
  }

  /** The provider's own status of the invoice: one `fetchStatus` activity, a single look unless `options` retry. */
  function askProvider(summary: string, step: StepName, options: ActivityOptions = STATUS_POLL): Promise<StatusResult> {
    return ordinary((carried) =>
      calls.fetchStatus.executeWithOptions({ ...options, taskQueue: queue, summary }, [
        { ...stepInput(step), ...carried },
      ]),
    );
  }

  /** Recorded before the first call that moves money: from here on reject and cancel are refused. */
  function passPointOfNoReturn(step: StepName): void {
    if (safe && !state.pointOfNoReturn) state.pointOfNoReturn = { step, at: now() };
  }

  type ProviderStep = 'kyc' | 'paymentMethod' | 'bank' | 'submit' | 'approveAtProvider' | 'complete';

  /**
   * Runs an ordinary activity. The workflow task ends while it runs, so the index is written first, and the events so
   * far are recorded before the call: by the recorder, or (EVENT_FOLD_PATCH) by the activity itself, which then does
   * not run its step unless the store took them.
   */
  async function ordinary<T extends object>(
    call: (carried: CarriedEvents) => Promise<T | EventsNotRecorded>,
  ): Promise<T> {
    index();
    if (!eventLog) return ran(await call({}));
    if (!foldEvents) {
      await publish();
      return ran(await call({}));
    }
    // Another publication under way (a handler's step while the main flow's runs): this one's events come after it.
    while (publishing) await publishing;
    const batch = unpublishedEvents(state, eventMark, eventLog);
    const events = unconfirmed ? [...unconfirmed, ...batch.events] : batch.events;
    eventMark = batch.mark;
    if (events.length === 0) return ran(await call({}));
    unconfirmed = events;
    let settled = () => undefined as void;
    const mine = new Promise<void>((resolve) => (settled = resolve));
    publishing = mine;
    try {
      const result = await call({ events });
      if (!eventsNotRecorded(result)) {
        if (unconfirmed === events) unconfirmed = undefined;
        return ran(result);
      }
    } finally {
      if (publishing === mine) publishing = undefined;
      settled();
    }
    // The store did not take them and the step did not run: record them patiently, then ask again.
    await publish();
    return ran(await call({}));
  }

  /** A step's answer that is not a refusal of its events: the step ran, and its stamp advances the clock. */
  function ran<T extends object>(result: T | EventsNotRecorded): T {
    if (eventsNotRecorded(result)) {
      throw ApplicationFailure.nonRetryable('a provider step refused events it was never given', 'EventsNotCarried');
    }
    observe(stampOf(result));
    return result;
  }

  const callBudget = timing.providerCallBudgetSeconds ? timing.providerCallBudgetSeconds * 1000 : undefined;

  function optionsFor(step: ProviderStep): ActivityOptions {
    if (!safe || !MONEY_STEPS.includes(step)) return PROVIDER_CALL;
    return callBudget ? { ...MONEY_CALL, scheduleToCloseTimeout: callBudget } : MONEY_CALL;
  }

  function providerCall(step: ProviderStep, summary: string) {
    return (stepArgs: StepInput): Promise<StepResult> =>
      ordinary((carried) =>
        calls[step].executeWithOptions({ ...optionsFor(step), taskQueue: queue, summary }, [
          { ...stepArgs, ...carried },
        ]),
      );
  }

  /** A setup step: local activity first, an ordinary one if that keeps failing (see LOCAL_FIRST). */
  function localFirstCall(step: 'kyc' | 'paymentMethod' | 'bank', summary: string) {
    const ordinary = providerCall(step, summary);
    return async (stepArgs: StepInput): Promise<StepResult> => {
      if (!localFirstAllowed) return ordinary(stepArgs);
      try {
        return ran(await localCalls[step].executeWithOptions({ ...LOCAL_FIRST, summary }, [stepArgs]));
      } catch (error) {
        if (isCancellation(error) || isRefusal(error)) throw error;
        log.warn('local step failed; retrying it as an ordinary activity', {
          invoiceId: request.invoiceId,
          step,
          error: String(error),
        });
        return ordinary(stepArgs);
      }
    };
  }

  function reached(milestone: ProviderMilestone): boolean {
    return milestoneRank >= PROVIDER_MILESTONES[milestone];
  }

  function endIfInterrupted(step: StepName): void {
    if (cancelRequest)
      throw new InvoiceEnded('CANCELLED', step, cancelRequest.reason ?? `cancelled by ${cancelRequest.by}`);
    // Past the point of no return a negative is not taken on its own: the settlement wait weighs it against what the
    // money-moving call reached.
    if (negative && !(safe && state.pointOfNoReturn)) endNegative(step);
  }

  function endNegative(step: StepName): never {
    const outcome = negative?.outcome ?? 'failed';
    throw new InvoiceEnded(NEGATIVE_TO_STATUS[outcome], step, negative?.detail ?? `the provider reported ${outcome}`);
  }

  /**
   * Waits for a provider milestone: first for its webhook, then by asking the provider on a growing interval, so a
   * lost webhook never leaves the invoice stuck. Ends at `deadlineSeconds`.
   */
  async function awaitProvider(
    milestone: ProviderMilestone,
    deadlineSeconds: number,
    what: string,
    phase: ResumePhase,
  ): Promise<Outcome> {
    const settledOrStopped = () => reached(milestone) || negative !== undefined || cancelRequest !== undefined;
    const resumed = carried?.resumeAt === phase ? carried : undefined;
    const deadline = resumed ? resumed.deadline : decisionMs() + deadlineSeconds * 1000;
    const outcome = (): Outcome => {
      // Money that moved outranks a cancellation or a negative that came while it moved.
      if (safe && reached(milestone)) return { kind: 'reached' };
      if (cancelRequest) return { kind: 'cancelled' };
      if (negative) return { kind: 'negative', ...negative };
      return reached(milestone) ? { kind: 'reached' } : { kind: 'timeout' };
    };
    if (settledOrStopped()) return outcome();
    waiting(what);
    const firstPoll = Math.min(decisionMs() + timing.pollAfterSeconds * 1000, deadline);
    if (!resumed && (await waitUntil(settledOrStopped, firstPoll))) {
      return outcome();
    }
    let interval = resumed ? resumed.pollIntervalMs : timing.pollInitialIntervalSeconds * 1000;
    while (decisionMs() < deadline) {
      // Each poll adds events: a wait of weeks goes on in a new run rather than toward the server's history limit.
      if (safe && workflowInfo().historyLength >= historyBudget && allHandlersFinished()) {
        throw new ContinueInNewRun(phase, deadline, interval);
      }
      waiting(`${what} (asking ${request.provider} directly)`);
      let status: StatusResult | undefined;
      try {
        status = await askProvider(`poll ${request.provider} for ${milestone}`, currentStep);
      } catch (error) {
        if (isCancellation(error)) throw error;
        // A failed poll is not a failed invoice: the webhook may still come, and the next poll may answer.
        log.warn('status poll failed', { invoiceId: request.invoiceId, error: String(error) });
      }
      if (status) {
        mergeRefs(status.refs);
        if (status.unrecognized !== undefined && patched(PAYONE_UNKNOWN_PATCH)) {
          // No news about the money: nothing is applied, and the operator sees the provider's own word (the activity
          // has logged it).
          state.unrecognizedProviderStatus = { status: status.unrecognized, at: now() };
          waiting(`${what} (${request.provider} answered "${status.unrecognized}", a status we cannot read)`);
        } else {
          if (state.unrecognizedProviderStatus) delete state.unrecognizedProviderStatus;
          applyProviderStatus(status.status, status.detail);
        }
      }
      if (settledOrStopped()) return outcome();
      const remaining = deadline - decisionMs();
      if (remaining <= 0) break;
      if (await waitUntil(settledOrStopped, decisionMs() + Math.min(interval, remaining))) return outcome();
      interval = Math.min(interval * 2, timing.pollMaxIntervalSeconds * 1000);
    }
    return outcome();
  }

  function endFromOutcome(outcome: Outcome, step: StepName, timeoutReason: string): void {
    if (outcome.kind === 'reached') return;
    if (outcome.kind === 'timeout') {
      // Past the point of no return the money may still arrive: expiring would undo a payment that happened.
      if (safe && state.pointOfNoReturn) throw new NeedsReview(step, timeoutReason);
      throw new InvoiceEnded('EXPIRED', step, timeoutReason);
    }
    if (outcome.kind === 'cancelled') {
      throw new InvoiceEnded(
        'CANCELLED',
        step,
        cancelRequest?.reason ?? `cancelled by ${cancelRequest?.by ?? 'unknown'}`,
      );
    }
    endNegative(step);
  }

  // --- Decisions: updates answer with the new state; signals carry the same decisions for callers that cannot wait.

  function refusal(decision: 'approve' | 'reject' | 'cancel', by: string): string | undefined {
    if (isFinalStatus(state.status)) return `${INVALID_STATE}: invoice is already ${state.status}`;
    if (state.status === 'NEEDS_REVIEW')
      return `${INVALID_STATE}: invoice needs review; only an operator's resolve ends it`;
    if (cancelRequest) return `${INVALID_STATE}: invoice is being cancelled`;
    if (forcing && decision !== 'approve') return `${INVALID_STATE}: invoice is being completed by hand`;
    if (safe && decision !== 'approve') {
      const tooLate = `it can no longer be ${decision === 'cancel' ? 'cancelled' : 'rejected'}`;
      if (state.pointOfNoReturn) {
        return `${INVALID_STATE}: the money is moving at the provider (step ${state.pointOfNoReturn.step}); ${tooLate}`;
      }
      if (callbacksWaiting > 0 && callbackVerdict() === 'accept') {
        return `${INVALID_STATE}: the provider's payment callback is being accepted; ${tooLate}`;
      }
    }
    if (decision === 'cancel') {
      if (state.status === 'COMPLETING') return `${INVALID_STATE}: completion at the provider has started`;
      if (milestoneRank >= PROVIDER_MILESTONES.paid && state.status === 'AWAITING_SETTLEMENT') {
        return `${INVALID_STATE}: the provider already reports the payment (${state.providerStatus ?? 'paid'})`;
      }
      return undefined;
    }
    const approvers = request.approval.approvers;
    if (approvers.length > 0 && !approvers.includes(by)) {
      return `${NOT_ALLOWED}: ${by} may not ${decision} this invoice`;
    }
    if (access && decision === 'approve' && !state.approval) {
      if (by === access.createdBy) return `${NOT_ALLOWED}: ${by} created this invoice and may not approve it`;
      if (state.approvals?.some((approval) => approval.by === by)) {
        return `${NOT_ALLOWED}: ${by} has approved already; the next approval must come from another principal`;
      }
    }
    if (state.approval?.decision === 'approved') {
      return decision === 'approve' ? undefined : `${INVALID_STATE}: invoice is already APPROVED`;
    }
    if (state.status !== 'AWAITING_APPROVAL') {
      return `${INVALID_STATE}: invoice is ${state.status}; it can be ${decision}d only in AWAITING_APPROVAL`;
    }
    return undefined;
  }

  function decide(decision: 'approve' | 'reject' | 'cancel', input: DecisionInput): boolean {
    if (refusal(decision, input.by)) return false;
    const record: ApprovalRecord = {
      decision: decision === 'approve' ? 'approved' : decision === 'reject' ? 'rejected' : 'cancelled',
      by: input.by,
      reason: input.reason,
      at: now(),
    };
    if (decision === 'cancel') cancelRequest = record;
    else if (access && decision === 'approve' && !state.approval) {
      const approvals = (state.approvals ??= []);
      approvals.push({ by: input.by, at: record.at });
      if (approvals.length >= access.approvalsRequired) {
        state.approval = { ...record, by: approvals.map((approval) => approval.by).join(', ') };
      }
    } else if (!state.approval) state.approval = record;
    return true;
  }

  function validator(decision: 'approve' | 'reject' | 'cancel') {
    return (input: DecisionInput) => {
      if (!input || typeof input.by !== 'string' || input.by.length === 0) {
        throw new Error(`${INVALID_STATE}: a decision needs "by", the deciding party`);
      }
      const reason = refusal(decision, input.by);
      if (reason) throw new Error(reason);
    };
  }

  /**
   * A handler's wait. Once the money-safety release is in, a workflow cancellation never cuts it short: a provider's
   * callback answered with an error would void its payment while the invoice went on.
   */
  function handlerWait(done: () => boolean, timeoutMs?: number): Promise<unknown> {
    const wait = async (): Promise<unknown> => (timeoutMs === undefined ? condition(done) : condition(done, timeoutMs));
    return safe ? CancellationScope.nonCancellable(wait) : wait();
  }

  // --- Completion by hand (Bitfinex's Complete Invoice), an operator's Update.

  /** The completion by hand in flight; a second request for the same deposit joins it instead of calling again. */
  let forcing: Promise<void> | undefined;

  function forceCompleteRefusal(input: ForceCompleteInput): string | undefined {
    if (request.provider !== 'bitfinex') {
      return `${INVALID_STATE}: only a Bitfinex invoice is completed by hand; this one is ${request.provider}`;
    }
    if (!input || typeof input.by !== 'string' || input.by === '') {
      return `${INVALID_STATE}: a completion by hand needs "by", the operator`;
    }
    if (typeof input.payCcy !== 'string' || input.payCcy === '') {
      return `${INVALID_STATE}: a completion by hand needs payCcy, the currency the customer paid in`;
    }
    const named: unknown[] = [input.depositId, input.ledgerId].filter((value) => value !== undefined);
    const [only] = named;
    if (named.length !== 1 || typeof only !== 'number' || !Number.isSafeInteger(only) || only <= 0) {
      return `${INVALID_STATE}: a completion by hand names exactly one depositId or ledgerId, as a positive integer`;
    }
    if (isFinalStatus(state.status)) return `${INVALID_STATE}: invoice is already ${state.status}`;
    const pending = state.forcedCompletion;
    if (forcing && pending) {
      const same =
        pending.payCcy === input.payCcy && pending.depositId === input.depositId && pending.ledgerId === input.ledgerId;
      return same
        ? undefined
        : `${INVALID_STATE}: invoice is being completed by hand by ${pending.by} with another deposit`;
    }
    if (state.status !== 'AWAITING_SETTLEMENT' || reached('settled') || negative || cancelRequest) {
      return `${INVALID_STATE}: invoice is ${state.status}; only one waiting for its payment (AWAITING_SETTLEMENT) is completed by hand`;
    }
    if (access && input.by === access.createdBy) {
      return `${NOT_ALLOWED}: ${input.by} created this invoice and may not complete it by hand`;
    }
    return undefined;
  }

  /** Calls Complete Invoice at the provider and records the outcome; throws FORCE_COMPLETE_FAILED when it did not. */
  async function forceComplete(input: ForceCompleteInput): Promise<void> {
    const record: ForcedCompletion = {
      forced: true,
      by: input.by,
      ...(input.reason ? { reason: input.reason } : {}),
      payCcy: input.payCcy,
      ...(input.depositId !== undefined ? { depositId: input.depositId } : {}),
      ...(input.ledgerId !== undefined ? { ledgerId: input.ledgerId } : {}),
      requestedAt: now(),
      outcome: 'pending',
    };
    state.forcedCompletion = record;
    const waitingBefore = state.waitingFor;
    const waitingNow = `completion by hand at ${request.provider}, asked by ${input.by}`;
    waiting(waitingNow);
    const { payCcy, depositId, ledgerId } = record;
    const options = { ...FORCE_COMPLETE_CALL, taskQueue: queue, summary: `${request.provider}: complete by hand` };
    try {
      const result = await CancellationScope.nonCancellable(() =>
        ordinary((carried) =>
          calls.forceComplete.executeWithOptions(
            callBudget ? { ...options, scheduleToCloseTimeout: callBudget } : options,
            [{ ...stepInput('complete'), completion: { payCcy, depositId, ledgerId }, ...carried }],
          ),
        ),
      );
      mergeRefs(result.refs);
      applyProviderStatus(result.providerStatus);
      Object.assign(record, { outcome: 'completed', at: now(), confirmedByProvider: result.forced });
      if (result.note) record.detail = result.note;
    } catch (error) {
      const cause = activityCause(error);
      const message = cause instanceof Error ? cause.message : String(cause);
      const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
      Object.assign(record, { outcome: 'failed', at: now(), detail: message });
      state.lastError = { step: 'complete', type, message, at: now() };
      // Before another request may replace the record: its failure is an event of its own.
      if (eventLog) await publish();
      // Another request may try again: the call looks before it completes, so nothing is completed twice.
      forcing = undefined;
      throw ApplicationFailure.create({
        type: FORCE_COMPLETE_FAILED,
        message: `${FORCE_COMPLETE_FAILED}: ${request.provider} did not complete the invoice: ${message}`,
        nonRetryable: true,
      });
    } finally {
      if (state.waitingFor === waitingNow) waiting(waitingBefore);
    }
  }

  function forcedNote(forced: ForcedCompletion | undefined): string | undefined {
    if (!forced || forced.outcome === 'failed') return undefined;
    if (forced.outcome === 'pending') return `completion by hand asked by ${forced.by}`;
    return forced.confirmedByProvider
      ? `completed by hand (forced) by ${forced.by}`
      : `the customer's payment completed it before the completion by hand asked by ${forced.by}`;
  }

  setHandler(
    forceCompleteUpdate,
    async (input) => {
      // Histories recorded before this release hold no such Update; the marker keeps later ones replaying alike.
      if (patched(BITFINEX_COMPLETE_PATCH)) {
        forcing ??= forceComplete(input);
        await forcing;
        await handlerWait(() => isFinalStatus(state.status));
      }
      return state;
    },
    {
      validator: (input: ForceCompleteInput) => {
        const reason = forceCompleteRefusal(input);
        if (reason) throw new Error(reason);
      },
    },
  );

  setHandler(
    approveUpdate,
    async (decision) => {
      decide('approve', decision);
      // One approval of several: the invoice still waits for the others. Answered once the event log holds it
      // (REPLAY_SAFE_PATCH): answered at once, the Update's completion and the recorder's scheduling came in an order
      // that the OpenTelemetry interceptors change, and a history written without them did not replay with them.
      if (access && !state.approval) {
        if (replaySafe && eventLog) await handlerWait(() => publishing === undefined && !eventsWaiting());
        return state;
      }
      await handlerWait(() => state.status !== 'AWAITING_APPROVAL');
      return state;
    },
    { validator: validator('approve') },
  );
  setHandler(
    rejectUpdate,
    async (decision) => {
      decide('reject', decision);
      await handlerWait(() => isFinalStatus(state.status));
      return state;
    },
    { validator: validator('reject') },
  );
  setHandler(
    cancelUpdate,
    async (decision) => {
      decide('cancel', decision);
      await handlerWait(() => isFinalStatus(state.status));
      return state;
    },
    { validator: validator('cancel') },
  );
  for (const [signal, decision] of [
    [approveSignal, 'approve'],
    [rejectSignal, 'reject'],
    [cancelSignal, 'cancel'],
  ] as const) {
    setHandler(signal, (input) => {
      if (!decide(decision, input)) {
        state.eventsIgnored++;
        log.warn('decision signal ignored', {
          invoiceId: request.invoiceId,
          decision,
          reason: refusal(decision, input.by),
        });
      }
    });
  }
  setHandler(providerEventSignal, (event) => {
    applyEvent(event);
  });

  // --- Looks: a webhook that proves nothing by itself makes the invoice ask its provider (see BITFINEX_VERIFY_PATCH).

  let looksWanted = 0;
  let looking = false;
  /** A reconciliation nudge arrived: a review may end on what the provider's API says. */
  let nudged = false;
  setHandler(providerLookSignal, async (look: ProviderLook) => {
    const nudge = look?.via === 'reconciliation';
    // A webhook's look keeps its Bitfinex-only condition and marker as released; a nudge has a marker of its own.
    const allowed =
      look?.provider === request.provider &&
      (nudge ? patched(RECONCILIATION_NUDGE_PATCH) : request.provider === 'bitfinex' && patched(BITFINEX_VERIFY_PATCH));
    if (!allowed) {
      state.eventsIgnored++;
      return;
    }
    if (nudge) nudged = true;
    // Looks that come while one runs are answered by one more look after it, not one each: webhook retries and
    // duplicates cost a single request.
    looksWanted++;
    if (looking) return;
    looking = true;
    try {
      while (looksWanted > 0) {
        looksWanted = 0;
        await lookAtProvider(look.hint);
      }
    } catch (error) {
      // A Temporal cancellation reaches a look in flight too. The invoice's flow turns it into a cancel request and
      // undoes what it must; thrown out of this handler it would end the workflow as cancelled, mid-undo.
      if (!isCancellation(error)) throw error;
    } finally {
      looking = false;
    }
  });

  /** One fetch of the invoice's own provider object, acted on as a poll's answer would be: the API's word only. */
  async function lookAtProvider(hint: string | undefined): Promise<void> {
    // The webhook can overtake submit's answer: the look waits until the invoice knows which object is its own.
    await condition(() => Object.keys(state.providerRefs).length > 0 || isFinalStatus(state.status));
    if (isFinalStatus(state.status)) return;
    let found: StatusResult;
    try {
      found = await askProvider(`look at ${request.provider}: its webhook said ${hint ?? 'something'}`, currentStep);
    } catch (error) {
      // A failed look is not a failed invoice: polling goes on, and the provider's next webhook asks again.
      log.warn('look at the provider failed', { invoiceId: request.invoiceId, error: String(error) });
      return;
    }
    if (found.money && (found.money.amount !== request.amount || found.money.currency !== request.currency)) {
      state.eventsMismatched = (state.eventsMismatched ?? 0) + 1;
      log.warn('provider object ignored: other money', { invoiceId: request.invoiceId });
      return;
    }
    mergeRefs(found.refs);
    applyProviderStatus(found.status, found.detail);
  }

  function callbackVerdict(): CallbackVerdict['verdict'] {
    if (cancelRequest || state.approval?.decision === 'rejected') return 'reject';
    if (['APPROVED', 'COMPLETING', 'AWAITING_SETTLEMENT', 'COMPLETED'].includes(state.status)) return 'accept';
    // An approval decided in this very activation, before the flow has moved on to APPROVED.
    if (safe && state.approval?.decision === 'approved' && !isFinalStatus(state.status)) return 'accept';
    if (isFinalStatus(state.status)) return 'reject';
    return 'undecided';
  }

  const callbackOptions = {
    // A callback answered already is answered again with the same verdict by the gateway, not by a new history entry.
    validator: (event: ProviderEvent & { waitSeconds: number }) => {
      const answered = safe ? answeredCallbacks.get(event.eventId) : undefined;
      if (answered) throw new Error(`${ALREADY_ANSWERED}: ${answered}`);
    },
  };
  setHandler(
    providerCallbackUpdate,
    async (event): Promise<CallbackVerdict> => {
      if (applyEvent(event) === 'mismatched') return { verdict: 'undecided', status: state.status };
      callbacksWaiting++;
      try {
        await handlerWait(() => callbackVerdict() !== 'undecided', Math.max(0, event.waitSeconds) * 1000);
      } finally {
        callbacksWaiting--;
      }
      const verdict = callbackVerdict();
      if (safe && verdict !== 'undecided') {
        answeredCallbacks.set(event.eventId, verdict);
        // Our "accept" is what makes the provider move the money.
        if (verdict === 'accept') passPointOfNoReturn('settlement');
      }
      return { verdict, status: state.status };
    },
    callbackOptions,
  );
  setHandler(
    resolveUpdate,
    async (resolution) => {
      state.resolution = { ...resolution, at: now() };
      await handlerWait(() => isFinalStatus(state.status));
      return state;
    },
    {
      validator: (resolution: ResolveInput) => {
        if (state.status !== 'NEEDS_REVIEW') {
          throw new Error(`${INVALID_STATE}: invoice is ${state.status}; only an invoice in NEEDS_REVIEW is resolved`);
        }
        if (state.resolution) throw new Error(`${INVALID_STATE}: invoice is being resolved`);
        if (!resolution || !(RESOLVE_OUTCOMES as readonly string[]).includes(resolution.outcome)) {
          throw new Error(`${INVALID_STATE}: outcome must be one of ${RESOLVE_OUTCOMES.join(', ')}`);
        }
        if (typeof resolution.reason !== 'string' || resolution.reason.trim() === '') {
          throw new Error(`${INVALID_STATE}: a resolution needs a reason`);
        }
        if (typeof resolution.by !== 'string' || resolution.by === '') {
          throw new Error(`${INVALID_STATE}: a resolution needs "by", the operator`);
        }
      },
    },
  );
  setHandler(statusQuery, () => state);

  // --- The flow.

  async function compensate(): Promise<void> {
    // Newest first, and never cut short by a cancellation of the workflow itself.
    await CancellationScope.nonCancellable(async () => {
      while (pendingCompensations.length > 0) {
        const next = pendingCompensations.pop();
        if (!next) break;
        const entry = { ...next };
        currentStep = 'compensation';
        try {
          if (entry.action === SUBMIT_INTENT) {
            // The creation's answer never came: undo whatever the provider shows it created.
            const found = await lookUpCreation();
            if (!found?.compensation) continue;
            entry.action = found.compensation;
          }
          waiting(`undo ${entry.action} at ${request.provider}`);
          const args: CompensationInput = { ...stepInput(entry.step), action: entry.action };
          const result = await ordinary((carried) =>
            calls.compensate.executeWithOptions(
              { ...COMPENSATION, taskQueue: queue, summary: `undo ${entry.step}: ${entry.action}` },
              [{ ...args, ...carried }],
            ),
          );
          mergeRefs(result.refs);
          state.compensations.push({ step: entry.step, action: entry.action, outcome: 'done', at: now() });
        } catch (error) {
          const cause = activityCause(error);
          const message = cause instanceof Error ? cause.message : String(cause);
          state.compensations.push({
            step: entry.step,
            action: entry.action,
            outcome: 'failed',
            detail: message,
            at: now(),
          });
        }
      }
    });
  }

  /** What the provider holds for this invoice, for an undo whose creation never answered; undefined if nothing. */
  async function lookUpCreation(): Promise<StatusResult | undefined> {
    try {
      const found = await askProvider(`ask ${request.provider} what submit created`, 'submit', COMPENSATION);
      mergeRefs(found.refs);
      return found;
    } catch (error) {
      const cause = activityCause(error);
      if (cause instanceof ApplicationFailure && cause.type === FAILURE_TYPES.notFound) return undefined;
      throw error;
    }
  }

  async function flow(): Promise<void> {
    // A continued run resumes in the long wait its predecessor was in; everything before it is done.
    if (!carried) {
      if (plan.kyc) {
        transition('KYC_PENDING');
        await runStep('kyc', 'KYC at the provider', localFirstCall('kyc', `${request.provider}: KYC`));
        endIfInterrupted('kyc');
        transition('KYC_APPROVED');
      }
      if (plan.paymentMethod) {
        await runStep(
          'paymentMethod',
          'payment method',
          localFirstCall('paymentMethod', `${request.provider}: payment method`),
        );
        endIfInterrupted('paymentMethod');
        transition('PAYMENT_METHOD_READY');
      }
      if (plan.bank) {
        await runStep('bank', 'bank account', localFirstCall('bank', `${request.provider}: bank account`));
        endIfInterrupted('bank');
        transition('BANK_READY');
      }
      await runStep('submit', 'submission', providerCall('submit', `${request.provider}: submit ${request.direction}`));
      transition('SUBMITTED');
      endIfInterrupted('submit');
    }

    if (plan.awaitBeforeApproval && carried?.resumeAt !== 'settlement') {
      currentStep = 'approval';
      const outcome = await awaitProvider(
        plan.awaitBeforeApproval,
        request.approval.timeoutSeconds,
        `${request.provider} to report ${plan.awaitBeforeApproval}`,
        'beforeApproval',
      );
      endFromOutcome(outcome, 'approval', `${plan.awaitBeforeApproval} did not come before the approval deadline`);
    }

    if (carried?.resumeAt !== 'settlement') {
      currentStep = 'approval';
      if (request.approval.required && state.approval?.decision !== 'approved') {
        transition('AWAITING_APPROVAL');
        waiting(
          request.approval.approvers.length
            ? `a decision by ${request.approval.approvers.join(' or ')}`
            : state.approvalsRequired
              ? `approvals by ${state.approvalsRequired} distinct principals`
              : 'a decision by the service',
        );
        const decided = await waitUntil(
          () => state.approval !== undefined || cancelRequest !== undefined || negative !== undefined,
          decisionMs() + request.approval.timeoutSeconds * 1000,
        );
        if (!decided) throw new InvoiceEnded('EXPIRED', 'approval', 'no decision before the approval deadline');
        endIfInterrupted('approval');
        if (state.approval?.decision === 'rejected') {
          throw new InvoiceEnded('REJECTED', 'approval', state.approval.reason ?? `rejected by ${state.approval.by}`);
        }
        transition('APPROVED', `approved by ${state.approval?.by ?? 'unknown'}`);
      } else {
        transition('APPROVED', request.approval.required ? undefined : 'no approval required');
      }

      if (plan.approveAtProvider) {
        passPointOfNoReturn('approveAtProvider');
        await runStep(
          'approveAtProvider',
          'approval at the provider',
          providerCall('approveAtProvider', `${request.provider}: approve`),
        );
        endIfInterrupted('approveAtProvider');
      }
      if (plan.complete) {
        passPointOfNoReturn('complete');
        transition('COMPLETING');
        await runStep('complete', 'completion', providerCall('complete', `${request.provider}: complete`));
      }
    }

    currentStep = 'settlement';
    transition('AWAITING_SETTLEMENT');
    const outcome = await awaitProvider(
      plan.settledAt,
      request.settlementTimeoutSeconds,
      `${request.provider} to settle`,
      'settlement',
    );
    endFromOutcome(outcome, 'settlement', 'the provider did not settle before the settlement deadline');
    transition('COMPLETED', forcedNote(state.forcedCompletion));
  }

  /** NEEDS_REVIEW: indexed, shown, and held until an operator's `resolve` names the final state. */
  async function review(pending: NeedsReview): Promise<void> {
    currentStep = pending.step;
    state.review = { step: pending.step, reason: pending.reason, at: now() };
    transition('NEEDS_REVIEW', `${pending.step}: ${pending.reason}`);
    waiting('an operator to resolve it: the provider could not say what happened');
    index();
    if (eventLog) await publish();
    await condition(() => state.resolution !== undefined || (nudged && reached(plan.settledAt)));
    const resolution = state.resolution;
    if (!resolution) {
      // Only the provider's own API, asked because reconciliation found the money settled, ends a review unattended.
      transition('COMPLETED', `reconciliation: ${request.provider} reports the money settled`);
      return;
    }
    if (resolution.outcome !== 'COMPLETED') await compensate();
    transition(resolution.outcome, `resolved by ${resolution.by}: ${resolution.reason}`);
  }

  /**
   * A cancellation through Temporal (the UI's button, `handle.cancel()`) is a cancel request like any other: before the
   * point of no return it cancels and undoes; after it the money movement finishes and the refusal is recorded.
   */
  function onWorkflowCancellation(): void {
    const refused = refusal('cancel', TEMPORAL_CANCEL_PARTY);
    if (!refused) {
      decide('cancel', { by: TEMPORAL_CANCEL_PARTY, reason: 'the workflow was cancelled through Temporal' });
      return;
    }
    (state.refusedRequests ??= []).push({ decision: 'cancel', by: TEMPORAL_CANCEL_PARTY, reason: refused, at: now() });
    waiting(state.waitingFor);
  }

  if (safe) {
    CancellationScope.current().cancelRequested.catch(onWorkflowCancellation);
    // The whole of it, down to waiting for handlers: any wait in the cancelled root scope would throw.
    await CancellationScope.nonCancellable(async () => {
      await run();
      index();
      if (eventLog) await publish();
      await condition(allHandlersFinished);
      // A handler may have recorded something on its way out (a completion by hand that failed).
      if (eventLog) await publish();
    });
    countEnd();
    return state;
  }
  await run();
  index();
  countEnd();
  return state;

  /** The SDK's workflow meter records nothing while replaying and writes nothing to history: one count per end. */
  function countEnd(): void {
    metricMeter
      .createCounter(WORKER_METRICS.invoicesEnded, '', 'Invoices that reached a final state')
      .add(1, { provider: request.provider, status: state.status });
  }

  async function run(): Promise<void> {
    try {
      await flow();
    } catch (error) {
      if (error instanceof NeedsReview) {
        await review(error);
        return;
      }
      if (error instanceof ContinueInNewRun) await continueInNewRun(error);
      let ended: InvoiceEnded;
      if (error instanceof InvoiceEnded) {
        ended = error;
      } else if (isCancellation(error)) {
        ended = new InvoiceEnded('CANCELLED', currentStep, 'the workflow was cancelled');
      } else {
        throw error;
      }
      // What the provider ended itself needs no undoing there; everything else is undone.
      if (!negative || cancelRequest || ended.status === 'FAILED') await compensate();
      else pendingCompensations.length = 0;
      if (ended.status === 'FAILED') {
        state.failure = {
          step: ended.step,
          type: ended.failureType ?? 'ProviderFailed',
          message: ended.reason,
          at: now(),
        };
      }
      const undone = state.compensations.filter((c) => c.outcome === 'done').map((c) => c.action);
      const note = `${ended.step}: ${ended.reason}${undone.length ? `; undone: ${undone.join(', ')}` : ''}`;
      const movedAnyway = safe && state.compensations.some((c) => c.outcome === 'failed') && (await moneyMoved());
      if (movedAnyway) {
        // The customer paid before the undo reached the provider: the invoice says what happened to the money.
        transition('COMPLETED', `${note}; but ${request.provider} reports the money moved (${movedAnyway})`);
        return;
      }
      transition(ended.status, note);
    }
  }

  async function continueInNewRun(next: ContinueInNewRun): Promise<never> {
    index();
    if (eventLog) await publish();
    const carry: CarriedInvoice = {
      resumeAt: next.resumeAt,
      deadline: next.deadline,
      pollIntervalMs: next.pollIntervalMs,
      state,
      seenEventIds: [...seenEventIds],
      heldEvents: [...heldEvents],
      pendingCompensations: [...pendingCompensations],
      milestoneRank,
      negative,
      cancelRequest,
      answeredCallbacks: [...answeredCallbacks],
      runs: (carried?.runs ?? 0) + 1,
      ...(eventLog ? { eventLog: eventMark } : {}),
    };
    return continueAsNew<typeof invoiceWorkflow>({
      request,
      plan,
      timing,
      ...(input.access ? { access: input.access } : {}),
      carried: carry,
      ...(eventLog ? { eventLog } : {}),
    });
  }

  /** After an undo failed: the provider's status if it says the money moved, so the invoice does not deny it. */
  async function moneyMoved(): Promise<ProviderStatus | undefined> {
    try {
      const found = await askProvider(`ask ${request.provider} whether the money moved`, 'compensation');
      mergeRefs(found.refs);
      return found.status === 'paid' || found.status === 'settled' ? found.status : undefined;
    } catch (error) {
      log.warn('status after a failed undo unknown', { invoiceId: request.invoiceId, error: String(error) });
      return undefined;
    }
  }
}
