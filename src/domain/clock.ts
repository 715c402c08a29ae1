/**
 * What an activity adds to its answer for the invoice workflow's clock (see REPLAY_SAFE_PATCH): the worker's time when
 * it finished. Being part of the recorded result, it is the same on every replay, which the SDK's `Date` is not.
 */
export interface Stamped {
  completedAt?: number;
}

/** `result` with the time it is handed back. */
export function stamped<T extends object>(result: T): T & Stamped {
  return { ...result, completedAt: Date.now() };
}

/** The stamp of an activity's answer; undefined for answers recorded before stamps existed. */
export function stampOf(result: object): number | undefined {
  const at = (result as Stamped).completedAt;
  return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
}
