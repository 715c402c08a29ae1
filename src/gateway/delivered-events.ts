/**
 * How long a delivered event is remembered: the longest horizon over which a provider retries a delivery, alfred's
 * (ALFRED_RETRY_HORIZON_MS, 24 h), so that every retry or replay of a signed delivery it still accepts is answered from
 * here instead of reaching the invoice again. Longer costs nothing in correctness: event ids name one real event each.
 */
export const DELIVERED_TTL_MS = 24 * 60 * 60_000;
/**
 * At most this many remembered keys (an event id, and a signature where the provider has one): 15 MB of heap when
 * full (measured with 60-character keys), a day of 50,000 signed deliveries. Past it the oldest is forgotten first, which only costs
 * a repeat its signal: the workflow still applies each event id once.
 */
export const DELIVERED_MAX_ENTRIES = 100_000;

/**
 * Events this gateway has durably handed to an invoice, by `provider:eventId` and, where the provider signs its
 * deliveries, `provider:replay:<signature>`. A provider repeats a webhook it
 * believes unanswered, and every repeat would otherwise be one more signal in the invoice's history (the workflow
 * ignores it, but its history grows). Forgetting is always safe: the workflow deduplicates by eventId anyway, so this
 * only spares Temporal; that is why a single gateway's memory is enough and nothing here is persisted.
 */
export class DeliveredEvents {
  // A Map iterates in insertion order, so its first key is the oldest: eviction and expiry both start there.
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number = DELIVERED_TTL_MS,
    private readonly maxEntries: number = DELIVERED_MAX_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  static key(provider: string, eventId: string): string {
    return `${provider}:${eventId}`;
  }

  /** True when the event was delivered within the last `ttlMs`. */
  has(key: string): boolean {
    const expiresAt = this.entries.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.now()) return true;
    this.entries.delete(key);
    return false;
  }

  /** Call only once the delivery is durable: an event remembered after a failed delivery would never be retried. */
  remember(key: string): void {
    const now = this.now();
    this.entries.delete(key);
    this.entries.set(key, now + this.ttlMs);
    this.prune(now);
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(now: number): void {
    // Every entry lives equally long, so insertion order is expiry order: stop at the first one still alive.
    for (const [key, expiresAt] of this.entries) {
      if (this.entries.size <= this.maxEntries && expiresAt > now) break;
      this.entries.delete(key);
    }
  }
}
