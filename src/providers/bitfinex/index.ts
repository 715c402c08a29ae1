import type { ProviderDefinition } from '../types';
import { createBitfinexAdapter } from './adapter';
import { BitfinexClient } from './client';
import { BitfinexSandbox } from './sandbox';

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
  create: ({ config }) => createBitfinexAdapter(BitfinexClient.fromConfig(config)),
  sandbox: (context) => new BitfinexSandbox(context),
};
