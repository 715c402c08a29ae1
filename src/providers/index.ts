import type { Config } from '../config';
import type { ProviderName } from '../domain/constants';
import type { Logger } from '../logger';
import { alfred } from './alfred';
import { bitfinex } from './bitfinex';
import { payone } from './payone';
import { xprizo } from './xprizo';
import type { ProviderDefinition, ProviderRegistry } from './types';

/** The registry: one line per provider. */
export const PROVIDERS: Readonly<Record<ProviderName, ProviderDefinition>> = {
  alfred,
  payone,
  xprizo,
  bitfinex,
};

export function createProviders(config: Config, logger: Logger): ProviderRegistry {
  const entries = Object.values(PROVIDERS).map((definition) => [
    definition.name,
    definition.create({ config, logger: logger.child({ provider: definition.name }) }),
  ]);
  return Object.fromEntries(entries) as ProviderRegistry;
}
