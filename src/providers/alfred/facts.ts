import type { ProviderFacts } from '../types';
import { alfredRequirements } from './requirements';

export const alfredFacts: ProviderFacts = {
  name: 'alfred',
  directions: ['pay_in', 'pay_out'],
  requirements: alfredRequirements,
  plan: (direction) => ({
    kyc: true,
    paymentMethod: true,
    bank: true,
    // Pay-out: alfred asks us (customer webhook) before it pays; the service's decision goes back as PUT invoice.
    awaitBeforeApproval: direction === 'pay_out' ? 'approval_requested' : undefined,
    approveAtProvider: direction === 'pay_out',
    complete: false,
    settledAt: 'settled',
  }),
};
