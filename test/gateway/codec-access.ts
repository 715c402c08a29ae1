import type { GatewayDeps } from '../../src/gateway/app';
import { TEST_KEYS, testAccess } from '../support/access';
import { API_KEY } from './gateway-env';

type GatewayOverrides = Partial<Omit<GatewayDeps, 'invoices' | 'config' | 'logger'>>;

export interface CodecAccess {
  /** What the test gateway is built with so that `allowed` may decode. */
  gateway: GatewayOverrides;
  /** The bearer token of a caller allowed to decode. */
  allowedToken: string;
  /** Callers that must be refused, and how. */
  refused: { who: string; headers: Record<string, string>; status: 401 | 403 }[];
}

/**
 * Who may use the codec server and who may not, in one place: a principal with the role payloads:decode may, a service
 * principal (known, without the role) gets 403, anyone else 401.
 */
export function codecAccess(): CodecAccess {
  const codecKey = TEST_KEYS.decoder;
  return {
    gateway: { access: testAccess() },
    allowedToken: codecKey,
    refused: [
      { who: 'a caller without credentials', headers: {}, status: 401 },
      { who: 'an unknown key', headers: { authorization: `Bearer not-${codecKey}` }, status: 401 },
      { who: 'a service API key', headers: { authorization: `Bearer ${API_KEY}` }, status: 403 },
    ],
  };
}
