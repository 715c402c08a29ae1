import type { ProviderDefinition } from '../types';

export const bitfinex: ProviderDefinition = {
  name: 'bitfinex',
  directions: ['pay_in'],
  plan: () => ({
    kyc: false,
    paymentMethod: false,
    bank: false,
    approveAtProvider: false,
    complete: false,
    settledAt: 'settled',
  }),
  create: () => {
    throw new Error('bitfinex adapter: not built yet');
  },
  sandbox: () => ({ register: () => undefined }),
};
