// Zod-free and import-free: the workflow bundle, the activities, the gateway and the dashboard's test read these.

/**
 * Metrics counted where the event happens and nowhere else. Those of the worker go through Temporal's replay-safe
 * metric meter and out on the SDK's Prometheus endpoint (TEMPORAL_METRICS_BIND); those of the gateway through
 * prom-client at the gateway's `GET /metrics`.
 */
export const WORKER_METRICS = {
  /** Counter, per provider and final status: written once, when the workflow returns its final state. */
  invoicesEnded: 'payment_invoices_ended_total',
  /** Histogram (ms), per provider, operation (activity step) and outcome: one provider step, retries not summed. */
  providerCallLatency: 'payment_provider_call_duration_milliseconds',
  /** Counter, per provider, operation and error class (the failure type retry policies see). */
  providerCallErrors: 'payment_provider_call_errors_total',
  /** Histogram (ms), per provider: how long an attempt waited on its provider's rate-limited task queue. */
  rateLimitWait: 'payment_provider_rate_limit_wait_milliseconds',
  /** Counter, per provider and class: differences a reconciliation found (each run adds what it found). */
  reconciliationDifferences: 'payment_reconciliation_differences_total',
} as const;

export const GATEWAY_METRICS = {
  /** Counter, per provider: invoices this gateway created (a repeated request is not counted again). */
  invoicesStarted: 'payment_gateway_invoices_started_total',
  /** Counter, per provider and result: what each webhook request was answered. */
  webhooks: 'payment_gateway_webhooks_total',
  /** Counter, per scope (address, principal): requests the gateway's own limits refused with 429. */
  rateLimited: 'payment_gateway_rate_limited_total',
} as const;
