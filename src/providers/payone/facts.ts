import type { ProviderFacts } from '../types';
import { payoneRequirements } from './requirements';

export const payoneFacts: ProviderFacts = {
  name: 'payone',
  directions: ['pay_in'],
  requirements: payoneRequirements,
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
};
