/** How long a delivered event is remembered: longer than providers' quick retries, short of any real new event. */
export const DELIVERED_TTL_MS = 10 * 60_000;
/** At most this many remembered events (well under a MiB); past it the oldest is forgotten first. */
export const DELIVERED_MAX_ENTRIES = 10_000;

/**
 * Events this gateway has durably handed to an invoice, by `provider:eventId`. A provider repeats a webhook it
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
