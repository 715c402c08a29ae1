/**
 * Timings for a local stack: the sandboxes answer in milliseconds, so a lost webhook is looked for after seconds,
 * not the production defaults' minutes. Any variable set in the environment wins.
 */
export const DEV_DEFAULTS = {
  // The summary `npm start` prints is what a developer reads; set LOG_LEVEL=info to see every request and step.
  LOG_LEVEL: 'error',
  INVOICE_POLL_AFTER_SECONDS: '5',
  INVOICE_POLL_INITIAL_INTERVAL_SECONDS: '2',
  INVOICE_POLL_MAX_INTERVAL_SECONDS: '30',
};
