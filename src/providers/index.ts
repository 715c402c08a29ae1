import type { Config } from '../config';
import type { ProviderName } from '../domain/constants';
import type { Logger } from '../logger';
import { alfred } from './alfred';
import { bitfinex } from './bitfinex';
import { payone } from './payone';
import { xprizo } from './xprizo';
import { FAILURE_TYPES, providerTransient } from '../errors';
import type { ProviderAdapter, ProviderDefinition, ProviderRegistry } from './types';

export { unmetRequirements } from './facts';

/** The registry: one line per provider. */
export const PROVIDERS: Readonly<Record<ProviderName, ProviderDefinition>> = {
  alfred,
  payone,
  xprizo,
  bitfinex,
};

/**
 * Stands in for a provider left out of PROVIDERS, which has no client (in production, no credentials either). Its
 * failures are transient on purpose: an invoice already running with that provider waits, visibly retrying, until the
 * provider is configured again, instead of being failed or undone while money may sit at the provider.
 */
function notConfigured(name: ProviderName): ProviderAdapter {
  const refuse = (): Promise<never> =>
    Promise.reject(providerTransient(FAILURE_TYPES.unavailable, `${name} is not configured here (PROVIDERS)`));
  return {
    name,
    kyc: refuse,
    paymentMethod: refuse,
    bank: refuse,
    submit: refuse,
    approveAtProvider: refuse,
    complete: refuse,
    compensate: refuse,
    fetchStatus: refuse,
  };
}

export function createProviders(config: Config, logger: Logger): ProviderRegistry {
  const entries = Object.values(PROVIDERS).map((definition) => [
    definition.name,
    config.providers.enabled.includes(definition.name)
      ? definition.create({ config, logger: logger.child({ provider: definition.name }) })
      : notConfigured(definition.name),
  ]);
  return Object.fromEntries(entries) as ProviderRegistry;
}
