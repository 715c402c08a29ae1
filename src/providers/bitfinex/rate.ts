/** What Bitfinex allows one key, and how much of it we let ourselves use. */
export interface BitfinexRateBudget {
  /** Requests Bitfinex allows in one window (90 a minute, UNCONFIRMED; see constants). */
  requests: number;
  windowSeconds: number;
  /** The share of the allowance left unused, for what this arithmetic does not model. */
  safetyMargin: number;
  /** Activities one worker runs on the Bitfinex queue at once. */
  maxConcurrentRequests: number;
}

/**
 * Temporal's matching service splits a task queue into partitions (4 by default) and gives each a token bucket whose
 * burst is at least one task, so up to about a second's worth of tasks plus one per partition can leave at once.
 */
const MATCHING_PARTITIONS = 4;

/**
 * The task-queue rate (activities a second, across every worker) that keeps Bitfinex's count of our requests under its
 * limit in any window, given that each activity attempt on the queue makes at most one request:
 *
 *   dispatched in a window      rate × window
 * + the matcher's burst         rate + partitions
 * + a stalled worker's backlog  maxConcurrentRequests (tasks it accepted while its event loop was starved, sent late)
 *   ≤ requests × (1 − margin)
 *
 * A retry is a new dispatch, so refused or failed attempts are inside the count, not on top of it. Undefined when the
 * budget cannot cover the bursts at all: a configuration to refuse, not to run.
 */
export function bitfinexActivitiesPerSecond(budget: BitfinexRateBudget): number | undefined {
  const usable = Math.floor(budget.requests * (1 - budget.safetyMargin));
  const left = usable - budget.maxConcurrentRequests - MATCHING_PARTITIONS;
  if (left <= 0) return undefined;
  return left / (budget.windowSeconds + 1);
}
