import { timingSafeEqual } from 'node:crypto';

/**
 * Compares a presented secret (a signature, a sender key) with the expected one in time that does not depend on how
 * much of it matched. timingSafeEqual throws on different lengths; the length itself is no secret.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
