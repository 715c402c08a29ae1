import { ApplicationFailure } from '@temporalio/common';

/**
 * Stable failure types: they are the contract with retry policies, the workflow's FAILED state and callers.
 * A provider refusal is final; a transient fault is thrown as a plain error (or `ProviderUnavailable`) and retried.
 */
export const FAILURE_TYPES = {
  providerRejected: 'ProviderRejected',
  kycFailed: 'KycFailed',
  insufficientFunds: 'InsufficientFunds',
  invalidResponse: 'ProviderInvalidResponse',
  notSupported: 'StepNotSupported',
  unavailable: 'ProviderUnavailable',
  rateLimited: 'ProviderRateLimited',
  authFailed: 'ProviderAuthFailed',
  /** The provider knows no object for the invoice: after a failed creation, proof that nothing was created. */
  notFound: 'ProviderObjectNotFound',
  /** An undo that did not take effect: the provider is past undoing, or refused. */
  notUndone: 'CompensationNotDone',
  /** The store did not take the events a retried step carries: the step did not run, and its next attempt tries again. */
  eventsNotRecorded: 'EventsNotRecorded',
} as const;

export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

/** A final refusal: the activity is not retried and the workflow ends the step at once. */
export function providerRefusal(
  type: FailureType,
  message: string,
  details?: Record<string, unknown>,
): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details ? [details] : undefined });
}

/** A transient fault: Temporal retries it, after `retryAfterMs` when the provider said how long to wait. */
export function providerTransient(type: FailureType, message: string, retryAfterMs?: number): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: false,
    nextRetryDelay: retryAfterMs !== undefined ? retryAfterMs : undefined,
  });
}
