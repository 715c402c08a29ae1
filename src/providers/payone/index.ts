import type { ProviderDefinition } from '../types';

export const payone: ProviderDefinition = {
  name: 'payone',
  directions: ['pay_in'],
  plan: () => ({
    kyc: false,
    paymentMethod: false,
    bank: false,
    // The customer pre-authorizes on the SmartLink page; we learn it by polling inquireInvoice (no callback exists).
    awaitBeforeApproval: 'authorized',
    approveAtProvider: false,
    complete: true,
    settledAt: 'settled',
  }),
  create: () => {
    throw new Error('payone adapter: not built yet');
  },
  sandbox: () => ({ register: () => undefined }),
};
