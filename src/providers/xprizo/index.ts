import type { ProviderDefinition } from '../types';
import { createXprizoAdapter } from './adapter';
import { XprizoClient } from './client';
import { XprizoSandbox } from './sandbox';

export const xprizo: ProviderDefinition = {
  name: 'xprizo',
  directions: ['pay_in', 'pay_out'],
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
  create: ({ config }) => createXprizoAdapter(XprizoClient.fromConfig(config)),
  sandbox: (context) => new XprizoSandbox(context),
};
