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

/** Wall-clock milliseconds with a fraction: the process's time origin plus its monotonic clock, finer than Date.now. */
export function preciseNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Strictly increasing nonces for one key: epoch microseconds (as Bitfinex's own plugin does), bumped past the last
 * one so two calls in the same microsecond, or a clock step back, still increase. Being time, the sequence survives a
 * restart of the worker; two processes signing for one key would each increase only their own, which is why one key
 * belongs to one kind of process (the worker; see `laneFor`).
 */
export class NonceSource {
  private last = 0;

  constructor(private readonly clock: () => number = preciseNowMs) {}

  next(): string {
    this.last = Math.max(this.last + 1, Math.floor(this.clock() * 1000));
    return String(this.last);
  }
}

/**
 * Everything one API key's requests share within a process: its nonces, and the order they are sent in. A nonce is
 * taken only when its request's turn comes, so a later nonce never reaches Bitfinex before an earlier one.
 */
export class KeyLane {
  readonly nonces: NonceSource;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(clock?: () => number) {
    this.nonces = new NonceSource(clock);
  }

  run<T>(call: (nonce: () => string) => Promise<T>): Promise<T> {
    const turn = this.queue.then(() => call(() => this.nonces.next()));
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

const lanes = new Map<string, KeyLane>();

/** The process's one lane for `apiKey`: every client of that key, however many are built, signs from it. */
export function laneFor(apiKey: string): KeyLane {
  let lane = lanes.get(apiKey);
  if (!lane) lanes.set(apiKey, (lane = new KeyLane()));
  return lane;
}
