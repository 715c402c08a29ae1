import { z } from 'zod';

/**
 * The payload keys' one format, `id:base64key,...` (PAYLOAD_ENCRYPTION_KEYS), apart from the rest of the configuration
 * so the client library can read it without loading the worker's and gateway's settings.
 */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface PayloadEncryptionKey {
  readonly id: string;
  readonly key: Uint8Array;
}

/** `id:base64key,...`, the first the one new payloads are encrypted with. Messages never echo key material. */
export const encryptionKeys = z.string().transform((value, ctx): PayloadEncryptionKey[] => {
  const keys: PayloadEncryptionKey[] = [];
  const seen = new Set<string>();
  const entries = value.split(',').map((entry) => entry.trim());
  entries.forEach((entry, index) => {
    const at = `entry ${index + 1}`;
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    const material = colon < 0 ? '' : entry.slice(colon + 1);
    if (KEY_ID.test(id) && seen.has(id)) {
      ctx.addIssue({ code: 'custom', path: [index], message: `${at}: key id "${id}" appears twice` });
      return;
    }
    seen.add(id);
    if (!KEY_ID.test(id)) {
      ctx.addIssue({
        code: 'custom',
        path: [index],
        message: `${at}: expected id:base64key, the id of [A-Za-z0-9._-]`,
      });
      return;
    }
    if (!BASE64.test(material)) {
      ctx.addIssue({ code: 'custom', path: [index], message: `${at} (key id "${id}"): the key is not base64` });
      return;
    }
    const key = Buffer.from(material, 'base64');
    if (key.length !== 32) {
      ctx.addIssue({
        code: 'custom',
        path: [index],
        message: `${at} (key id "${id}"): the key must be exactly 32 bytes, got ${key.length} (openssl rand -base64 32)`,
      });
      return;
    }
    keys.push({ id, key });
  });
  return keys;
});
