import type { ProviderFacts } from '../types';
import { capHeldApprovalDeadline } from './mapping';
import { xprizoRequirements } from './requirements';

export const xprizoFacts: ProviderFacts = {
  name: 'xprizo',
  directions: ['pay_in', 'pay_out'],
  requirements: xprizoRequirements,
  plan: (direction) => ({
    kyc: false,
    paymentMethod: false,
    bank: false,
    // Pay-out is sent with a hold: Xprizo's payment callback waits for our verdict before the money moves.
    awaitBeforeApproval: direction === 'pay_out' ? 'approval_requested' : undefined,
    approveAtProvider: false,
    complete: false,
    settledAt: 'settled',
  }),
  adjust: capHeldApprovalDeadline,
};
