import type { ProviderDefinition } from '../types';
import { createPayOneAdapter } from './adapter';
import { PayOneClient, payoneClientOptions } from './client';
import { statusAliasTable } from './mapping';
import { refuseSandboxFallbackInProduction } from '../sandbox/kit';
import { PayOneSandbox } from './sandbox';
import { payoneFacts } from './facts';

export const payone: ProviderDefinition = {
  ...payoneFacts,
  create: ({ config, logger }) => {
    refuseSandboxFallbackInProduction(config, 'payone', config.providers.payone);
    return createPayOneAdapter(new PayOneClient(payoneClientOptions(config)), {
      statusAliases: statusAliasTable(config.providers.payone.statusAliases),
      logger,
    });
  },
  sandbox: (context) => new PayOneSandbox(context),
};
