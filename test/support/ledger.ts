import { isFinalStatus, type InvoiceStatus } from '../../src/domain/constants';

/** Where an invoice stops moving on its own: a final status, or NEEDS_REVIEW waiting for an operator. */
export function stopped(status: InvoiceStatus): boolean {
  return isFinalStatus(status) || status === 'NEEDS_REVIEW';
}

/**
 * What a provider's own record (a ProviderStatus, or 'nothing' when it holds no object) says of the money. 'open' is
 * an object still waiting at the provider: after its invoice ended, an orphan.
 */
export function moneyAt(status: string): 'moved' | 'not moved' | 'open' {
  if (status === 'settled' || status === 'paid') return 'moved';
  if (status === 'pending' || status === 'approval_requested') return 'open';
  // Cancelled, expired, rejected, failed, nothing, and PayOne's 'authorized': PayOne documents no void of a
  // pre-authorization, so an uncaptured hold lapses at the issuer without the money moving.
  return 'not moved';
}
