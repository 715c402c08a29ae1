// The workflow bundle's entry: every workflow type this worker runs.
export { invoiceWorkflow } from './invoice-workflow';
export * from './delivery-workflow';
export * from './reconciliation-workflow';
