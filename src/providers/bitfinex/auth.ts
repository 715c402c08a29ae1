import { createHmac } from 'node:crypto';
import { sameBytes } from '../same-bytes';

/** The string Bitfinex signs: `/api/v2/<path>` + nonce + the exact JSON body sent. */
export function signaturePayload(path: string, nonce: string, body: string): string {
  return `/api/v2/${path}${nonce}${body}`;
}

/** hex(HMAC-SHA384(secret, payload)). */
export function sign(apiSecret: string, path: string, nonce: string, body: string): string {
  return createHmac('sha384', apiSecret)
    .update(signaturePayload(path, nonce, body))
    .digest('hex');
}

export function signatureMatches(expectedHex: string, presented: string): boolean {
  const a = Buffer.from(expectedHex, 'hex');
  const b = Buffer.from(/^[0-9a-f]+$/i.test(presented) ? presented : '', 'hex');
  return sameBytes(a, b);
}

/**
 * Strictly increasing nonces for one key: epoch microseconds (as Bitfinex's own plugin does), bumped past the last
 * one so two calls in the same microsecond, or a clock step back, still increase.
 */
export class NonceSource {
  private last = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  next(): string {
    this.last = Math.max(this.last + 1, this.clock() * 1000);
    return String(this.last);
  }
}
