import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { PayloadEncryptionKey } from '../temporal/encryption-keys';

/** The prefix says what the value is when it turns up in a receiver's configuration or a leak scanner's report. */
export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A stored secret this process cannot open: its key is gone from PAYLOAD_ENCRYPTION_KEYS, or the row was altered. */
export class WebhookSecretError extends Error {
  readonly type = 'WebhookSecretError';
}

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64url')}`;
}

/**
 * `<key id>:<base64 iv|ciphertext|tag>` under the payload encryption key (AES-256-GCM), so a copy of the database is no
 * copy of the secrets. The endpoint id is authenticated with it: a ciphertext moved to another endpoint's row fails to
 * open instead of signing that endpoint's deliveries.
 */
export function sealSecret(keys: readonly PayloadEncryptionKey[], endpointId: string, secret: string): string {
  const [active] = keys;
  if (!active) throw new WebhookSecretError('no payload encryption key to seal a webhook secret with');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', active.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(`${active.id}\n${endpointId}`, 'utf8'));
  const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${active.id}:${Buffer.concat([iv, sealed]).toString('base64')}`;
}

export function openSecret(keys: readonly PayloadEncryptionKey[], endpointId: string, stored: string): string {
  const colon = stored.indexOf(':');
  const keyId = stored.slice(0, colon);
  const key = keys.find((candidate) => candidate.id === keyId);
  if (colon < 0 || !key) throw new WebhookSecretError(`a webhook secret is sealed with an unknown key "${keyId}"`);
  const data = Buffer.from(stored.slice(colon + 1), 'base64');
  if (data.length < IV_BYTES + TAG_BYTES) throw new WebhookSecretError('a stored webhook secret is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key.key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(`${keyId}\n${endpointId}`, 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch (cause) {
    throw new WebhookSecretError('a stored webhook secret failed authentication (altered, or another endpoint’s)', {
      cause,
    });
  }
}
