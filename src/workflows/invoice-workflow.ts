import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
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
import type { CompensationInput, StatusResult, StepInput, StepResult } from '../providers/types';
import {
  approveSignal,
  approveUpdate,
  cancelSignal,
  cancelUpdate,
  initialInvoiceState,
  INVALID_STATE,
  NOT_ALLOWED,
  providerCallbackUpdate,
  providerEventSignal,
  providerReferenceValue,
  rejectSignal,
  rejectUpdate,
  searchAttributes,
  statusQuery,
  TASK_QUEUES,
  type ApprovalRecord,
  type CallbackVerdict,
  type DecisionInput,
  type InvoiceState,
  type InvoiceWorkflowInput,
  type ProviderEvent,
} from './definitions';

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
 * to an ordinary activity (PROVIDER_CALL), whose retries the UI shows and whose status is indexed first.
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

/** One look at the provider's status while polling; the polling loop itself is the retry. */
const STATUS_POLL: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 3 },
};

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
    readonly status: Exclude<InvoiceStatus, 'COMPLETED'>,
    readonly step: StepName,
    readonly reason: string,
    readonly failureType?: string,
  ) {
    super(reason);
  }
}

const NEGATIVE_TO_STATUS: Record<ProviderNegativeOutcome, 'REJECTED' | 'CANCELLED' | 'EXPIRED' | 'FAILED'> = {
  rejected: 'REJECTED',
  cancelled: 'CANCELLED',
  expired: 'EXPIRED',
  failed: 'FAILED',
};

export async function invoiceWorkflow(input: InvoiceWorkflowInput): Promise<InvoiceState> {
  const { request, plan, timing } = input;
  // Workflow time: inside the SDK's sandbox `Date` is the deterministic time of the current workflow task.
  const nowMs = () => new Date().getTime();
  const now = () => new Date(nowMs()).toISOString();

  const state: InvoiceState = initialInvoiceState(request, now());

  const queue = request.provider === 'bitfinex' ? TASK_QUEUES.bitfinex : TASK_QUEUES.invoices;
  // Every call names its own options and summary through executeWithOptions; these are only the defaults.
  const calls = proxyActivities<InvoiceActivities>({ ...PROVIDER_CALL, taskQueue: queue });
  const localCalls = proxyLocalActivities<InvoiceActivities>(LOCAL_FIRST);
  // A local activity skips the task queue, and with it the server-side rate limit of Bitfinex's queue.
  const localFirstAllowed = queue === TASK_QUEUES.invoices;

  /** Newest last; run newest first. */
  const pendingCompensations: { step: StepName; action: string }[] = [];
  const seenEventIds = new Set<string>();
  let milestoneRank = 0;
  let negative: { outcome: ProviderNegativeOutcome; detail?: string } | undefined;
  let cancelRequest: ApprovalRecord | undefined;
  let currentStep: StepName = 'kyc';

  let indexedStatus: InvoiceStatus = 'CREATED';
  let indexedRefs = 0;

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
   * the transitions made inside one workflow task (three local steps, a submission whose webhook is already in) cost
   * one upsert instead of one each. A transition alone does not write.
   */
  function index(): void {
    const refs = Object.entries(state.providerRefs);
    if (state.status === indexedStatus && refs.length === indexedRefs) return;
    const update: SearchAttributeUpdatePair[] = [{ key: searchAttributes.status, value: state.status }];
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
      .run(() => sleep(at - nowMs()))
      .then(
        () => {
          if (alarm === mine) alarm = undefined;
          alarmsRung++;
        },
        // Cancelled: a nearer alarm replaced this one, or the workflow itself was cancelled.
        () => undefined,
      );
  }

  /** Waits until `done()` or workflow time `wakeAt`, whichever is first; true if `done()`. */
  async function waitUntil(done: () => boolean, wakeAt: number): Promise<boolean> {
    index();
    while (!done()) {
      if (nowMs() >= wakeAt) return false;
      setAlarm(wakeAt);
      const rung = alarmsRung;
      await condition(() => done() || alarmsRung !== rung);
    }
    return true;
  }

  function waiting(what: string | undefined): void {
    state.waitingFor = what;
    setCurrentDetails(
      what ? `**${state.status}** · step \`${currentStep}\` · waiting for ${what}` : `**${state.status}**`,
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
    if (refs) Object.assign(state.providerRefs, refs);
  }

  /** Applies an event once, whenever it arrives; a wait that comes later finds its milestone already reached. */
  function applyEvent(event: ProviderEvent): boolean {
    if (seenEventIds.has(event.eventId)) {
      state.eventsIgnored++;
      return false;
    }
    seenEventIds.add(event.eventId);
    state.eventsApplied++;
    if (event.providerRef) state.providerRefs.lastEventRef = event.providerRef;
    applyProviderStatus(event.status, event.detail);
    return true;
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
    try {
      const result = await call(stepInput(step));
      mergeRefs(result.refs);
      applyProviderStatus(result.providerStatus);
      if (result.compensation) pendingCompensations.push({ step, action: result.compensation });
      return result;
    } catch (error) {
      if (isCancellation(error)) throw error;
      const cause = activityCause(error);
      const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : 'Error';
      const message = cause instanceof Error ? cause.message : String(cause);
      state.lastError = { step, type, message, at: now() };
      throw new InvoiceEnded('FAILED', step, message, type);
    }
  }

  type ProviderStep = 'kyc' | 'paymentMethod' | 'bank' | 'submit' | 'approveAtProvider' | 'complete';

  /** Runs an ordinary activity. The workflow task ends while it runs, so the index is written first. */
  function ordinary<T>(call: () => Promise<T>): Promise<T> {
    index();
    return call();
  }

  function providerCall(step: ProviderStep, summary: string) {
    return (stepArgs: StepInput): Promise<StepResult> =>
      ordinary(() => calls[step].executeWithOptions({ ...PROVIDER_CALL, taskQueue: queue, summary }, [stepArgs]));
  }

  /** A setup step: local activity first, an ordinary one if that keeps failing (see LOCAL_FIRST). */
  function localFirstCall(step: 'kyc' | 'paymentMethod' | 'bank', summary: string) {
    const ordinary = providerCall(step, summary);
    return async (stepArgs: StepInput): Promise<StepResult> => {
      if (!localFirstAllowed) return ordinary(stepArgs);
      try {
        return await localCalls[step].executeWithOptions({ ...LOCAL_FIRST, summary }, [stepArgs]);
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
    if (negative) {
      const status = NEGATIVE_TO_STATUS[negative.outcome];
      throw new InvoiceEnded(status, step, negative.detail ?? `the provider reported ${negative.outcome}`);
    }
  }

  /**
   * Waits for a provider milestone: first for its webhook, then by asking the provider on a growing interval, so a
   * lost webhook never leaves the invoice stuck. Ends at `deadlineSeconds`.
   */
  async function awaitProvider(milestone: ProviderMilestone, deadlineSeconds: number, what: string): Promise<Outcome> {
    const settledOrStopped = () => reached(milestone) || negative !== undefined || cancelRequest !== undefined;
    const deadline = nowMs() + deadlineSeconds * 1000;
    const outcome = (): Outcome => {
      if (cancelRequest) return { kind: 'cancelled' };
      if (negative) return { kind: 'negative', ...negative };
      return reached(milestone) ? { kind: 'reached' } : { kind: 'timeout' };
    };
    if (settledOrStopped()) return outcome();
    waiting(what);
    if (await waitUntil(settledOrStopped, Math.min(nowMs() + timing.pollAfterSeconds * 1000, deadline))) {
      return outcome();
    }
    let interval = timing.pollInitialIntervalSeconds * 1000;
    while (nowMs() < deadline) {
      waiting(`${what} (asking ${request.provider} directly)`);
      let status: StatusResult | undefined;
      try {
        status = await ordinary(() =>
          calls.fetchStatus.executeWithOptions(
            { ...STATUS_POLL, taskQueue: queue, summary: `poll ${request.provider} for ${milestone}` },
            [stepInput(currentStep)],
          ),
        );
      } catch (error) {
        if (isCancellation(error)) throw error;
        // A failed poll is not a failed invoice: the webhook may still come, and the next poll may answer.
        log.warn('status poll failed', { invoiceId: request.invoiceId, error: String(error) });
      }
      if (status) {
        mergeRefs(status.refs);
        applyProviderStatus(status.status, status.detail);
      }
      if (settledOrStopped()) return outcome();
      const remaining = deadline - nowMs();
      if (remaining <= 0) break;
      if (await waitUntil(settledOrStopped, nowMs() + Math.min(interval, remaining))) return outcome();
      interval = Math.min(interval * 2, timing.pollMaxIntervalSeconds * 1000);
    }
    return outcome();
  }

  function endFromOutcome(outcome: Outcome, step: StepName, timeoutReason: string): void {
    if (outcome.kind === 'reached') return;
    if (outcome.kind === 'timeout') throw new InvoiceEnded('EXPIRED', step, timeoutReason);
    endIfInterrupted(step);
  }

  // --- Decisions: updates answer with the new state; signals carry the same decisions for callers that cannot wait.

  function refusal(decision: 'approve' | 'reject' | 'cancel', by: string): string | undefined {
    if (isFinalStatus(state.status)) return `${INVALID_STATE}: invoice is already ${state.status}`;
    if (cancelRequest) return `${INVALID_STATE}: invoice is being cancelled`;
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
    else if (!state.approval) state.approval = record;
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

  setHandler(
    approveUpdate,
    async (decision) => {
      decide('approve', decision);
      await condition(() => state.status !== 'AWAITING_APPROVAL');
      return state;
    },
    { validator: validator('approve') },
  );
  setHandler(
    rejectUpdate,
    async (decision) => {
      decide('reject', decision);
      await condition(() => isFinalStatus(state.status));
      return state;
    },
    { validator: validator('reject') },
  );
  setHandler(
    cancelUpdate,
    async (decision) => {
      decide('cancel', decision);
      await condition(() => isFinalStatus(state.status));
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
  setHandler(providerCallbackUpdate, async (event): Promise<CallbackVerdict> => {
    applyEvent(event);
    const verdict = (): CallbackVerdict['verdict'] => {
      if (cancelRequest || state.approval?.decision === 'rejected') return 'reject';
      if (['APPROVED', 'COMPLETING', 'AWAITING_SETTLEMENT', 'COMPLETED'].includes(state.status)) return 'accept';
      if (isFinalStatus(state.status)) return 'reject';
      return 'undecided';
    };
    await condition(() => verdict() !== 'undecided', Math.max(0, event.waitSeconds) * 1000);
    return { verdict: verdict(), status: state.status };
  });
  setHandler(statusQuery, () => state);

  // --- The flow.

  async function compensate(): Promise<void> {
    // Newest first, and never cut short by a cancellation of the workflow itself.
    await CancellationScope.nonCancellable(async () => {
      while (pendingCompensations.length > 0) {
        const entry = pendingCompensations.pop();
        if (!entry) break;
        currentStep = 'compensation';
        waiting(`undo ${entry.action} at ${request.provider}`);
        const args: CompensationInput = { ...stepInput(entry.step), action: entry.action };
        try {
          const result = await ordinary(() =>
            calls.compensate.executeWithOptions(
              { ...COMPENSATION, taskQueue: queue, summary: `undo ${entry.step}: ${entry.action}` },
              [args],
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

  async function flow(): Promise<void> {
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

    if (plan.awaitBeforeApproval) {
      currentStep = 'approval';
      const outcome = await awaitProvider(
        plan.awaitBeforeApproval,
        request.approval.timeoutSeconds,
        `${request.provider} to report ${plan.awaitBeforeApproval}`,
      );
      endFromOutcome(outcome, 'approval', `${plan.awaitBeforeApproval} did not come before the approval deadline`);
    }

    currentStep = 'approval';
    if (request.approval.required && state.approval?.decision !== 'approved') {
      transition('AWAITING_APPROVAL');
      waiting(
        request.approval.approvers.length
          ? `a decision by ${request.approval.approvers.join(' or ')}`
          : 'a decision by the service',
      );
      const decided = await waitUntil(
        () => state.approval !== undefined || cancelRequest !== undefined || negative !== undefined,
        nowMs() + request.approval.timeoutSeconds * 1000,
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
      await runStep(
        'approveAtProvider',
        'approval at the provider',
        providerCall('approveAtProvider', `${request.provider}: approve`),
      );
      endIfInterrupted('approveAtProvider');
    }
    if (plan.complete) {
      transition('COMPLETING');
      await runStep('complete', 'completion', providerCall('complete', `${request.provider}: complete`));
    }

    currentStep = 'settlement';
    transition('AWAITING_SETTLEMENT');
    const outcome = await awaitProvider(
      plan.settledAt,
      request.settlementTimeoutSeconds,
      `${request.provider} to settle`,
    );
    endFromOutcome(outcome, 'settlement', 'the provider did not settle before the settlement deadline');
    transition('COMPLETED');
  }

  try {
    await flow();
  } catch (error) {
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
    transition(ended.status, note);
  }
  index();
  return state;
}
