import type { ProviderName } from '../domain/constants';
import type { InvoiceRequest } from '../domain/invoice';
import { alfredFacts } from './alfred/facts';
import { bitfinexFacts } from './bitfinex/facts';
import { payoneFacts } from './payone/facts';
import { xprizoFacts } from './xprizo/facts';
import type { FieldIssue, ProviderFacts } from './types';

/**
 * What starting an invoice needs from each provider, and nothing that talks to one: the client library (and so the
 * published `payment-orchestrator/client` entry) loads this, never the adapters, sandboxes or provider SDKs.
 * PROVIDERS spreads these entries into its definitions, so the two cannot disagree.
 */
export const PROVIDER_FACTS: Readonly<Record<ProviderName, ProviderFacts>> = {
  alfred: alfredFacts,
  payone: payoneFacts,
  xprizo: xprizoFacts,
  bitfinex: bitfinexFacts,
};

/**
 * What the request's provider would refuse: a direction it does not offer, else the fields its requirements name.
 * Checked before a workflow starts, so such a request is a 400 rather than an invoice that fails at the provider.
 */
export function unmetRequirements(request: InvoiceRequest): readonly FieldIssue[] {
  const facts = PROVIDER_FACTS[request.provider];
  if (!facts.directions.includes(request.direction)) {
    // The provider's other requirements assume a direction it offers; naming them too would only mislead.
    return [{ path: 'direction', message: `${request.provider} supports ${facts.directions.join(' and ')} only` }];
  }
  return facts.requirements(request);
}
