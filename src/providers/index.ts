import type { Config } from '../config';
import type { ProviderName } from '../domain/constants';
import type { InvoiceRequest } from '../domain/invoice';
import type { Logger } from '../logger';
import { alfred } from './alfred';
import { bitfinex } from './bitfinex';
import { payone } from './payone';
import { xprizo } from './xprizo';
import type { FieldIssue, ProviderDefinition, ProviderRegistry } from './types';

/** The registry: one line per provider. */
export const PROVIDERS: Readonly<Record<ProviderName, ProviderDefinition>> = {
  alfred,
  payone,
  xprizo,
  bitfinex,
};

/**
 * What the request's provider would refuse: a direction it does not offer, else the fields its requirements name.
 * Checked before a workflow starts, so such a request is a 400 rather than an invoice that fails at the provider.
 */
export function unmetRequirements(request: InvoiceRequest): readonly FieldIssue[] {
  const definition = PROVIDERS[request.provider];
  if (!definition.directions.includes(request.direction)) {
    // The provider's other requirements assume a direction it offers; naming them too would only mislead.
    return [{ path: 'direction', message: `${request.provider} supports ${definition.directions.join(' and ')} only` }];
  }
  return definition.requirements(request);
}

export function createProviders(config: Config, logger: Logger): ProviderRegistry {
  const entries = Object.values(PROVIDERS).map((definition) => [
    definition.name,
    definition.create({ config, logger: logger.child({ provider: definition.name }) }),
  ]);
  return Object.fromEntries(entries) as ProviderRegistry;
}
