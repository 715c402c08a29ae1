import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError, type Config } from '../../config';
import type { ProviderName } from '../../domain/constants';
import type { Logger } from '../../logger';

/** Faults a sandbox injects, set by config or per request with the `x-sandbox-fault` header. */
export interface FaultSettings {
  /** Share of requests answered 503. */
  errorRate: number;
  /** Share of requests that never get an answer within the client's timeout (held for `timeoutHoldMs`). */
  timeoutRate: number;
  timeoutHoldMs: number;
  /** Added to every answer. */
  latencyMs: number;
  /** Share of requests the sandbox carries out and then never answers: the response is lost on the way back. */
  lostResponseRate: number;
  /** The next N requests are answered 429. */
  rateLimitBurst: number;
  /** Each webhook is sent twice. */
  duplicateWebhooks: boolean;
  /** Webhooks are held and sent newest first in small batches. */
  reorderWebhooks: boolean;
}

export const NO_FAULTS: FaultSettings = {
  errorRate: 0,
  timeoutRate: 0,
  timeoutHoldMs: 15_000,
  latencyMs: 0,
  lostResponseRate: 0,
  rateLimitBurst: 0,
  duplicateWebhooks: false,
  reorderWebhooks: false,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fault injection for one sandbox. `random` is injectable so a test can make faults deterministic.
 * A fault is decided before the request touches the sandbox's state, as a real outage would be: nothing happened.
 */
/** A request a test holds open at the sandbox: `reached` once it arrives, answered only after `release()`. */
export interface HeldCall {
  reached: Promise<void>;
  release(): void;
}

export class Faults {
  settings: FaultSettings;
  injected = { errors: 0, timeouts: 0, rateLimited: 0, lostResponses: 0 };
  private readonly gates: { method: string; path: RegExp; arrived(): void; released: Promise<void> }[] = [];
  private readonly pathFaults: { method: string; path: RegExp; fault: 'error' | 'lost-response' }[] = [];

  /**
   * Every request matching `method` and `path` meets `fault` from now on: answered 503 before anything happens, or
   * carried out and its answer lost. For a test of one call failing until its retries run out.
   */
  failAlways(method: string, path: RegExp, fault: 'error' | 'lost-response'): void {
    this.pathFaults.push({ method: method.toUpperCase(), path, fault });
  }

  private pathFault(request: FastifyRequest, fault: 'error' | 'lost-response'): boolean {
    return this.pathFaults.some((f) => f.fault === fault && f.method === request.method && f.path.test(request.url));
  }

  /**
   * Holds the next request matching `method` and `path` before the sandbox acts on it, so a test can do something
   * while a call is in flight ("during the money-moving call") and then let it through.
   */
  hold(method: string, path: RegExp): HeldCall {
    let arrived = () => {};
    let release = () => {};
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.gates.push({ method: method.toUpperCase(), path, arrived, released });
    return { reached, release };
  }

  constructor(
    initial: Partial<FaultSettings> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.settings = { ...NO_FAULTS, ...initial };
  }

  set(settings: Partial<FaultSettings>): void {
    this.settings = { ...this.settings, ...settings };
  }

  /** Decided after the sandbox has done the work: true means the answer must be dropped. */
  loseResponse(request: FastifyRequest): boolean {
    const forced = request.headers['x-sandbox-fault'] === 'lost-response' || this.pathFault(request, 'lost-response');
    if (!forced && !(this.settings.lostResponseRate > 0 && this.random() < this.settings.lostResponseRate))
      return false;
    this.injected.lostResponses++;
    return true;
  }

  /** Returns true when the request was answered (or swallowed) by a fault. */
  async apply(
    request: FastifyRequest,
    reply: FastifyReply,
    rateLimitBody: unknown = { error: 'rate limited' },
  ): Promise<boolean> {
    const gate = this.gates.find((g) => g.method === request.method && g.path.test(request.url));
    if (gate) {
      this.gates.splice(this.gates.indexOf(gate), 1);
      gate.arrived();
      await gate.released;
    }
    const forced = String(request.headers['x-sandbox-fault'] ?? '');
    const s = this.settings;
    const latency = /^latency=(\d+)$/.exec(forced)?.[1];
    if (s.latencyMs > 0 || latency) await sleep(latency ? Number(latency) : s.latencyMs);
    if (forced === '429' || s.rateLimitBurst > 0) {
      if (!forced) s.rateLimitBurst--;
      this.injected.rateLimited++;
      await reply.code(429).header('retry-after', '1').send(rateLimitBody);
      return true;
    }
    if (forced === 'timeout' || (s.timeoutRate > 0 && this.random() < s.timeoutRate)) {
      this.injected.timeouts++;
      await sleep(s.timeoutHoldMs);
      request.raw.destroy();
      return true;
    }
    if (forced === 'error' || this.pathFault(request, 'error') || (s.errorRate > 0 && this.random() < s.errorRate)) {
      this.injected.errors++;
      await reply.code(503).send({ error: 'sandbox injected fault' });
      return true;
    }
    return false;
  }
}

/**
 * A sandbox's pending work (expiries, confirmations, delayed webhooks): timers that never hold the process open and
 * that `clear()` cancels together when the sandbox is reset.
 */
export class SandboxTimers {
  private readonly pending = new Set<NodeJS.Timeout>();

  later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.pending.add(timer);
  }

  clear(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}

/** Counts what a sandbox did, by kind and reference, so tests can prove nothing happened twice. */
export class Counter {
  private readonly counts = new Map<string, number>();

  inc(kind: string, reference: string): number {
    const key = `${kind}:${reference}`;
    const next = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, next);
    return next;
  }

  get(kind: string, reference: string): number {
    return this.counts.get(`${kind}:${reference}`) ?? 0;
  }

  /** Every reference with more than one `kind`: the duplicates a test must never see. */
  duplicates(kind: string): string[] {
    return [...this.counts.entries()]
      .filter(([key, count]) => key.startsWith(`${kind}:`) && count > 1)
      .map(([key]) => key.slice(kind.length + 1));
  }

  /** Every count, `kind:reference` → times: what another process reads over HTTP (`GET /<provider>/_sandbox/counts`). */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  total(kind: string): number {
    let sum = 0;
    for (const [key, count] of this.counts) if (key.startsWith(`${kind}:`)) sum += count;
    return sum;
  }
}

export interface WebhookDelivery {
  url: string;
  body: unknown;
  headers?: Record<string, string>;
  /** Builds headers at send time (signatures with a fresh timestamp). */
  sign?: (rawBody: string) => Record<string, string>;
  /** Retry while the answer is not 2xx, up to this many attempts. */
  maxAttempts: number;
  /** First retry delay; doubles each attempt. */
  backoffMs: number;
  /** Called with each answer's status (0 for no answer). Returning 'stop' ends retries. */
  onAnswer?: (status: number, attempt: number) => 'stop' | 'continue' | void;
}

/**
 * Sends webhooks asynchronously, as providers do: after the API call has answered, with retries and backoff, and
 * with duplicates or reordering when the faults say so.
 */
export class WebhookSender {
  readonly log: { url: string; status: number; attempt: number; at: number }[] = [];
  private inFlight = 0;
  private held: WebhookDelivery[] = [];
  private closed = false;

  constructor(
    private readonly faults: Faults,
    private readonly logger: Logger,
  ) {}

  send(delivery: WebhookDelivery): void {
    if (this.faults.settings.reorderWebhooks) {
      this.held.push(delivery);
      if (this.held.length === 1) setTimeout(() => this.flushHeld(), 50);
      return;
    }
    this.start(delivery);
    if (this.faults.settings.duplicateWebhooks) this.start(delivery);
  }

  /** Resolves once nothing is waiting to be sent. */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.inFlight > 0 || this.held.length > 0) && Date.now() < deadline) await sleep(20);
  }

  close(): void {
    this.closed = true;
  }

  private flushHeld(): void {
    const batch = this.held.reverse();
    this.held = [];
    for (const delivery of batch) {
      this.start(delivery);
      if (this.faults.settings.duplicateWebhooks) this.start(delivery);
    }
  }

  private start(delivery: WebhookDelivery): void {
    this.inFlight++;
    void this.deliver(delivery).finally(() => this.inFlight--);
  }

  private async deliver(delivery: WebhookDelivery): Promise<void> {
    const raw = JSON.stringify(delivery.body);
    for (let attempt = 1; attempt <= delivery.maxAttempts && !this.closed; attempt++) {
      let status = 0;
      try {
        const response = await fetch(delivery.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...delivery.headers, ...delivery.sign?.(raw) },
          body: raw,
          signal: AbortSignal.timeout(30_000),
        });
        status = response.status;
        await response.arrayBuffer();
      } catch (error) {
        this.logger.debug({ url: delivery.url, attempt, err: String(error) }, 'sandbox webhook not answered');
      }
      this.log.push({ url: delivery.url, status, attempt, at: Date.now() });
      const verdict = delivery.onAnswer?.(status, attempt);
      if (verdict === 'stop' || (verdict !== 'continue' && status >= 200 && status < 300)) return;
      await sleep(delivery.backoffMs * 2 ** (attempt - 1));
    }
  }
}

/** What every provider's sandbox gets from the sandbox server. */
export interface SandboxContext {
  logger: Logger;
  faults: Faults;
  webhooks: WebhookSender;
  counter: Counter;
  /** Where this provider's webhooks go (the gateway's route, or a test's receiver). */
  webhookUrl: (path: string) => string;
  /** Credentials the sandbox accepts, the same the clients use by default. */
  credentials: Record<string, string>;
  /** Shrinks the provider's documented delays (webhook backoff, expiry) for tests and demos. */
  timeScale: number;
}

/** A provider's sandbox: its routes (mounted under `/<provider>`) and a handle for tests to act as the customer. */
export interface ProviderSandbox {
  register(app: FastifyInstance): void;
  reset?(): void;
}

/** Sandboxes accept published credentials and move no money: a production deployment never runs one. */
export function refuseSandboxesInProduction(config: Config): void {
  if (config.env === 'production') {
    throw new ConfigError([
      'provider sandboxes: refused when NODE_ENV=production; configure the real providers (PROVIDERS and their ' +
        'base URLs and credentials), or run the sandboxes with NODE_ENV=development',
    ]);
  }
}

/**
 * A provider's client falls back to its sandbox's URL and published credentials for every setting left unset, which
 * only development and tests may do. loadConfig refuses such a production configuration already; this catches any
 * path that did not go through it (a config built by hand, a provider left out of PROVIDERS but still called).
 */
export function refuseSandboxFallbackInProduction(
  config: Config,
  provider: ProviderName,
  settings: Readonly<Record<string, unknown>>,
): void {
  if (config.env !== 'production') return;
  const unset = Object.entries(settings).filter(([, value]) => value === undefined || value === '');
  if (unset.length > 0) {
    throw new ConfigError(
      unset.map(([setting]) => `${provider} ${setting}: not configured, and production has no sandbox fallback`),
    );
  }
}

/** Where a provider's client goes when no real base URL is configured: its sandbox. */
export function sandboxBaseUrl(config: Config, provider: ProviderName): string {
  return `http://127.0.0.1:${config.sandboxPort}/${provider}`;
}
