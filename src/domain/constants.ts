// Zod-free names shared by the workflow bundle, the client, the gateway and the providers.

export const PROVIDER_NAMES = ['alfred', 'payone', 'xprizo', 'bitfinex'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export const DIRECTIONS = ['pay_in', 'pay_out'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Operators filter on these names in the Temporal UI: never rename one. */
export const INVOICE_STATUSES = [
  'CREATED',
  'KYC_PENDING',
  'KYC_APPROVED',
  'PAYMENT_METHOD_READY',
  'BANK_READY',
  'SUBMITTED',
  'AWAITING_APPROVAL',
  'APPROVED',
  'COMPLETING',
  'AWAITING_SETTLEMENT',
  'COMPLETED',
  'CANCELLED',
  'REJECTED',
  'EXPIRED',
  'FAILED',
  /** Not final: the provider's state could not be settled automatically and an operator must `resolve` it. */
  'NEEDS_REVIEW',
] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

export const FINAL_STATUSES = ['COMPLETED', 'CANCELLED', 'REJECTED', 'EXPIRED', 'FAILED'] as const;
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/** The final states an operator may resolve a NEEDS_REVIEW invoice to. */
export const RESOLVE_OUTCOMES = ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED'] as const;
export type ResolveOutcome = (typeof RESOLVE_OUTCOMES)[number];

export function isFinalStatus(status: InvoiceStatus): status is FinalStatus {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

/** Provider-neutral steps; a provider's plan says which of them it has. */
export const STEPS = [
  'kyc',
  'paymentMethod',
  'bank',
  'submit',
  'approval',
  'approveAtProvider',
  'complete',
  'settlement',
  'compensation',
] as const;
export type StepName = (typeof STEPS)[number];

/**
 * What a provider tells us about an invoice, in our words. Positive milestones are ranked so that a wait for one is
 * also satisfied by any later one (a settlement webhook that overtook the approval webhook still settles the invoice).
 */
export const PROVIDER_MILESTONES = {
  pending: 0,
  approval_requested: 1,
  authorized: 1,
  approved: 2,
  paid: 2,
  settled: 3,
} as const;
export type ProviderMilestone = keyof typeof PROVIDER_MILESTONES;

export const PROVIDER_NEGATIVE_OUTCOMES = ['rejected', 'cancelled', 'expired', 'failed'] as const;
export type ProviderNegativeOutcome = (typeof PROVIDER_NEGATIVE_OUTCOMES)[number];

export type ProviderStatus = ProviderMilestone | ProviderNegativeOutcome;

export const PROVIDER_STATUSES = [
  ...(Object.keys(PROVIDER_MILESTONES) as ProviderMilestone[]),
  ...PROVIDER_NEGATIVE_OUTCOMES,
] as const;

export function isNegativeOutcome(status: ProviderStatus): status is ProviderNegativeOutcome {
  return (PROVIDER_NEGATIVE_OUTCOMES as readonly string[]).includes(status);
}

/** Search attributes registered on the server and kept current by the workflow. */
export const SEARCH_ATTRIBUTES = {
  InvoiceStatus: 'Keyword',
  PaymentProvider: 'Keyword',
  InvoiceDirection: 'Keyword',
  InvoiceAmount: 'Int',
  InvoiceCurrency: 'Keyword',
  CustomerId: 'Keyword',
  /** The tenant an invoice belongs to: every read and list of the service API is scoped by it. */
  TenantId: 'Keyword',
  /** `key:value` for each provider reference, so a webhook that names only the provider's id finds its invoice. */
  ProviderReferences: 'KeywordList',
  /** Set when an undo at the provider failed, so operators can find every invoice that left something behind. */
  CompensationFailed: 'Bool',
  /** On a reconciliation workflow: the differences it found, for an alert on `ReconciliationDifferences > 0`. */
  ReconciliationDifferences: 'Int',
} as const;
