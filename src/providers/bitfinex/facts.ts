import type { ProviderFacts } from '../types';
import { bitfinexRequirements } from './requirements';

export const bitfinexFacts: ProviderFacts = {
  name: 'bitfinex',
  directions: ['pay_in'],
  requirements: bitfinexRequirements,
  plan: () => ({
    kyc: false,
    paymentMethod: false,
    bank: false,
    approveAtProvider: false,
    complete: false,
    settledAt: 'settled',
  }),
};
