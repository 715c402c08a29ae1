import {
  accessDocumentFor,
  createAccessRegistry,
  createApiKey,
  loadAccessDocument,
  type AccessRegistry,
} from '../access/principals';
import type { Config } from '../config';

export class GatewayConfigError extends Error {
  readonly type = 'GatewayConfigError';
}

export const NO_KEYS_MESSAGE =
  'No API keys: the gateway refuses to serve without principals. Set GATEWAY_KEYS_FILE to a keys document ' +
  '(`payorch keys create --file keys.json --tenant T --id P --roles invoices:create,invoices:read` makes one) or ' +
  'GATEWAY_KEYS to the same JSON; `npm start` makes development keys itself.';

/** The principals the configuration names, or a refusal: a gateway without keys would be open or useless. */
export function accessFromConfig(config: Config): AccessRegistry {
  const document = loadAccessDocument(config.gateway);
  if (!document || document.principals.length === 0) throw new GatewayConfigError(NO_KEYS_MESSAGE);
  return createAccessRegistry(document);
}

export interface DevAccess {
  registry: AccessRegistry;
  /** Shown once at start, never stored: a service, a second person who approves, and an operator. */
  keys: { service: string; approver: string; operator: string };
}

/**
 * `npm start`'s principals when none are configured: pay-outs need an approval by default and the creator may not
 * give it, so the samples need a second principal to approve what the service created.
 */
export const DEV_TENANT = 'dev';

export function createDevAccess(tenant = DEV_TENANT): DevAccess {
  const keys = { service: createApiKey(), approver: createApiKey(), operator: createApiKey() };
  const document = accessDocumentFor([
    {
      id: 'dev-service',
      tenant,
      roles: ['invoices:create', 'invoices:read', 'invoices:cancel', 'events:read', 'webhooks:manage'],
      key: keys.service,
    },
    { id: 'dev-approver', tenant, roles: ['invoices:read', 'invoices:approve', 'invoices:cancel'], key: keys.approver },
    { id: 'dev-operator', tenant, roles: ['admin'], key: keys.operator },
  ]);
  return { registry: createAccessRegistry(document), keys };
}
