import type { ProviderDefinition } from '../types';
import { createPayOneAdapter } from './adapter';
import { PayOneClient, payoneClientOptions } from './client';
import { statusAliasTable } from './mapping';
import { refuseSandboxFallbackInProduction } from '../sandbox/kit';
import { PayOneSandbox } from './sandbox';
import { payoneRequirements } from './requirements';

export const payone: ProviderDefinition = {
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
  create: ({ config, logger }) => {
    refuseSandboxFallbackInProduction(config, 'payone', config.providers.payone);
    return createPayOneAdapter(new PayOneClient(payoneClientOptions(config)), {
      statusAliases: statusAliasTable(config.providers.payone.statusAliases),
      logger,
    });
  },
  sandbox: (context) => new PayOneSandbox(context),
};
