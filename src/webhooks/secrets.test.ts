import { randomBytes } from 'node:crypto';
import { newWebhookSecret, openSecret, sealSecret, WebhookSecretError } from './secrets';

const keys = [
  { id: 'k2', key: randomBytes(32) },
  { id: 'k1', key: randomBytes(32) },
];

describe('webhook secrets at rest', () => {
  it('are random, prefixed, and sealed under the first payload key', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(newWebhookSecret()).not.toBe(secret);
    const sealed = sealSecret(keys, 'we_1', secret);
    expect(sealed.startsWith('k2:')).toBe(true);
    expect(sealed).not.toContain(secret.slice('whsec_'.length));
    expect(openSecret(keys, 'we_1', sealed)).toBe(secret);
    // Sealed twice, two ciphertexts: a fresh IV each time.
    expect(sealSecret(keys, 'we_1', secret)).not.toBe(sealed);
  });

  it('still open under an older key after a key rotation, and not once that key is gone', () => {
    const sealed = sealSecret(keys.slice(1), 'we_1', 'whsec_old');
    expect(openSecret(keys, 'we_1', sealed)).toBe('whsec_old');
    expect(() => openSecret(keys.slice(0, 1), 'we_1', sealed)).toThrow(WebhookSecretError);
  });

  it("refuse an altered ciphertext and one moved to another endpoint's row", () => {
    const sealed = sealSecret(keys, 'we_1', 'whsec_x');
    expect(() => openSecret(keys, 'we_2', sealed)).toThrow(WebhookSecretError);
    const body = Buffer.from(sealed.slice(3), 'base64');
    body[20] = (body[20] ?? 0) ^ 1;
    expect(() => openSecret(keys, 'we_1', `k2:${body.toString('base64')}`)).toThrow(WebhookSecretError);
    expect(() => openSecret(keys, 'we_1', 'k2:AAAA')).toThrow(WebhookSecretError);
  });
});
