import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export class GatewayConfigError extends Error {
  readonly type = 'GatewayConfigError';
}

export const NO_API_KEY_MESSAGE =
  'GATEWAY_API_KEYS is empty: the gateway refuses to serve without an API key. Set GATEWAY_API_KEYS to one or more ' +
  'comma-separated keys (e.g. `GATEWAY_API_KEYS=$(openssl rand -hex 32)`); `npm start` makes a development key itself.';

/** A random key for `npm start`, printed once at start; never stored. */
export function createDevApiKey(): string {
  return `dev_${randomBytes(24).toString('base64url')}`;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Holds only SHA-256 digests of the keys, so a heap dump does not reveal them. Digests have one length, so
 * timingSafeEqual never throws and the comparison time tells nothing about how much of a key matched.
 */
export function createApiKeyVerifier(keys: readonly string[]): (authorization: string | undefined) => boolean {
  if (keys.length === 0) throw new GatewayConfigError(NO_API_KEY_MESSAGE);
  const digests = keys.map(sha256);
  return (authorization) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match?.[1]) return false;
    const presented = sha256(match[1]);
    // Every digest is compared, so the time does not reveal which key (if any) matched.
    let found = false;
    for (const digest of digests) found = timingSafeEqual(presented, digest) || found;
    return found;
  };
}
