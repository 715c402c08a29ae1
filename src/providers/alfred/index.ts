import type { ProviderDefinition } from '../types';

export const alfred: ProviderDefinition = {
  name: 'alfred',
  directions: ['pay_in', 'pay_out'],
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
  create: () => {
    throw new Error('alfred adapter: not built yet');
  },
  sandbox: () => ({ register: () => undefined }),
};
