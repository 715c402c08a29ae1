import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SandboxTimers, type ProviderSandbox, type SandboxContext } from '../sandbox/kit';
import { sign, signatureMatches } from './auth';
import {
  DURATION_BOUNDS,
  ERROR_CODES,
  PATHS,
  RATE_LIMIT_ERROR,
  RATE_LIMIT_PER_MINUTE,
  SANDBOX_CREDENTIALS,
} from './constants';
import type { BitfinexInvoiceStatus } from './schemas';

export interface SandboxInvoice {
  id: string;
  t: number;
  type: 'ECOMMERCE' | 'POS';
  duration: number;
  amount: number;
  currency: string;
  orderId: string;
  payCurrencies: string[];
  webhook: string | null;
  redirectUrl: string | null;
  status: BitfinexInvoiceStatus;
  customerInfo: Record<string, unknown> | null;
  invoices: { amount: number; currency: string; payCurrency: string; poolCurrency: string; address: string }[];
  payment: {
    txid: string;
    amount: number;
    currency: string;
    method: string;
    status: 'CREATED' | 'PROCESSING' | 'COMPLETED';
    confirmations: number;
    createdAt: string;
    updatedAt: string;
    depositId: number | null;
    ledgerId: number | null;
    forceCompleted: boolean;
    amountDiff: string;
  } | null;
  additionalPayments: unknown[];
  merchantName: string;
}

export interface BitfinexSandboxOptions {
  rateLimitPerMinute: number;
  /** The sliding window; a minute, unscaled, since tests exceed the limit by sending fast rather than waiting. */
  rateLimitWindowMs: number;
  /** Confirmations before a paid invoice completes, and the time between two (unscaled; timeScale applies). */
  requiredConfirmations: number;
  confirmationIntervalMs: number;
  /**
   * UNCONFIRMED retry policy for webhooks: a few attempts with doubling backoff on anything but 2xx.
   */
  webhookAttempts: number;
  webhookBackoffMs: number;
}

const REQUEST_LOG_SIZE = 1000;

/** Sandbox price of one unit of each crypto in USD-ish terms: display only, never money we act on. */
const FAKE_RATES: Record<string, number> = { BTC: 60_000, ETH: 3_000, 'UST-ETH': 1, LNX: 60_000 };

interface ParsedBody {
  raw: string;
  value: unknown;
}

/**
 * Bitfinex Pay as the docs describe it: signed, nonce-checked POSTs; invoices CREATED → PENDING → COMPLETED or
 * EXPIRED; webhooks with the invoice body; and a per-key rate limit that answers `{"error":"ERR_RATE_LIMIT"}`.
 * Errors use Bitfinex's `["error", code, message]` with HTTP 500, as the live API does.
 */
export class BitfinexSandbox implements ProviderSandbox {
  readonly options: BitfinexSandboxOptions;
  /** Requests the rate limiter refused. */
  rateLimitRefusals = 0;
  /**
   * Every request that reached a `/v2/` route, refused or not, per path: what counts against Bitfinex's limit, so a
   * test can see that every call we make (webhook verification's fetch included) was one the limit saw.
   */
  readonly requestsByPath = new Map<string, number>();
  /** The latest requests as sent, oldest first (at most REQUEST_LOG_SIZE): for tests of what goes on the wire. */
  readonly requestLog: { path: string; key: string; at: number; body: string }[] = [];
  private readonly invoices = new Map<string, SandboxInvoice>();
  private readonly lastNonce = new Map<string, bigint>();
  private readonly requestTimes = new Map<string, number[]>();
  private readonly unlinkedDeposits: { id: number; ccy: string; amount: number; mts: number }[] = [];
  private readonly timers = new SandboxTimers();
  private nextDepositId = 9000;

  constructor(
    private readonly ctx: SandboxContext,
    options: Partial<BitfinexSandboxOptions> = {},
  ) {
    this.options = {
      rateLimitPerMinute: RATE_LIMIT_PER_MINUTE,
      rateLimitWindowMs: 60_000,
      requiredConfirmations: 3,
      confirmationIntervalMs: 60_000,
      webhookAttempts: 5,
      webhookBackoffMs: 10_000,
      ...options,
    };
  }

  reset(): void {
    this.timers.clear();
    this.invoices.clear();
    this.lastNonce.clear();
    this.requestTimes.clear();
    this.unlinkedDeposits.length = 0;
    this.rateLimitRefusals = 0;
    this.requestsByPath.clear();
    this.requestLog.length = 0;
  }

  /** Requests received on every route together. */
  get requestCount(): number {
    let total = 0;
    for (const count of this.requestsByPath.values()) total += count;
    return total;
  }

  setRateLimit(perMinute: number, windowMs = this.options.rateLimitWindowMs): void {
    this.options.rateLimitPerMinute = perMinute;
    this.options.rateLimitWindowMs = windowMs;
    this.requestTimes.clear();
  }

  invoice(id: string): SandboxInvoice | undefined {
    return this.invoices.get(id);
  }

  byOrderId(orderId: string): SandboxInvoice[] {
    return [...this.invoices.values()].filter((invoice) => invoice.orderId === orderId);
  }

  /** The customer pays in `payCcy`: the deposit is seen, then confirms block by block until COMPLETED. */
  // --- Drift: Bitfinex's books diverging from ours, as reconciliation must find them. Bitfinex documents no reversal
  // status (only refund operations), so the sandbox offers none.

  /** Completes the invoice with no webhook: only a look at the API or the invoice list can tell. */
  settleSilently(invoiceId: string): SandboxInvoice {
    const invoice = this.invoices.get(invoiceId);
    if (!invoice) throw new Error(`no invoice ${invoiceId}`);
    invoice.status = 'COMPLETED';
    return invoice;
  }

  /** The invoice's amount, in its currency, changes at Bitfinex. */
  changeAmount(invoiceId: string, amount: number): SandboxInvoice {
    if (!Number.isFinite(amount) || amount <= 0) throw new Error('amount must be a positive number');
    const invoice = this.invoices.get(invoiceId);
    if (!invoice) throw new Error(`no invoice ${invoiceId}`);
    invoice.amount = amount;
    return invoice;
  }

  /** Bitfinex loses the invoice. */
  forget(invoiceId: string): void {
    if (!this.invoices.delete(invoiceId)) throw new Error(`no invoice ${invoiceId}`);
  }

  /** A COMPLETED invoice none of ours created, under `orderId` if given. */
  createOrphan(options: { amount: number; currency: string; orderId?: string }): SandboxInvoice {
    const invoice: SandboxInvoice = {
      id: randomUUID(),
      t: Date.now(),
      type: 'POS',
      duration: 900,
      amount: options.amount,
      currency: options.currency,
      orderId: options.orderId ?? `orphan-${randomUUID()}`,
      payCurrencies: ['BTC'],
      webhook: null,
      redirectUrl: null,
      status: 'COMPLETED',
      customerInfo: null,
      invoices: [],
      payment: null,
      additionalPayments: [],
      merchantName: 'Sandbox Merchant',
    };
    this.invoices.set(invoice.id, invoice);
    return invoice;
  }

  pay(invoiceId: string, payCcy: string): SandboxInvoice {
    const invoice = this.invoices.get(invoiceId);
    if (!invoice) throw new Error(`no invoice ${invoiceId}`);
    if (invoice.status !== 'CREATED') throw new Error(`invoice ${invoiceId} is ${invoice.status}`);
    const quote = invoice.invoices.find((entry) => entry.payCurrency === payCcy);
    if (!quote) throw new Error(`${payCcy} is not one of ${invoice.payCurrencies.join(', ')}`);
    const now = new Date().toISOString();
    invoice.status = 'PENDING';
    invoice.payment = {
      txid: randomBytes(32).toString('hex'),
      amount: quote.amount,
      currency: payCcy,
      method: payCcy.toLowerCase(),
      status: 'PROCESSING',
      confirmations: 0,
      createdAt: now,
      updatedAt: now,
      depositId: this.nextDepositId++,
      ledgerId: null,
      forceCompleted: false,
      amountDiff: '0',
    };
    this.confirm(invoice);
    return invoice;
  }

  /** A deposit the merchant may link to an invoice with a manual complete. */
  addUnlinkedDeposit(ccy: string, amount: number): number {
    const id = this.nextDepositId++;
    this.unlinkedDeposits.push({ id, ccy, amount, mts: Date.now() });
    return id;
  }

  register(app: FastifyInstance): void {
    // The signature covers the exact bytes sent, so this scope keeps the raw body beside the parsed one.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      const raw = String(body);
      try {
        done(null, { raw, value: raw.length ? (JSON.parse(raw) as unknown) : {} } satisfies ParsedBody);
      } catch (error) {
        done(error as Error, undefined);
      }
    });

    const route = (path: string, handler: (body: Record<string, unknown>, reply: FastifyReply) => unknown) => {
      app.post(`/v2/${path}`, async (request, reply) => {
        const key = headerValue(request, 'bfx-apikey') ?? 'anonymous';
        this.record(path, key, (request.body as ParsedBody | undefined)?.raw ?? '');
        if (!this.withinRateLimit(key)) {
          this.rateLimitRefusals++;
          return reply.code(429).send({ error: RATE_LIMIT_ERROR });
        }
        if (await this.ctx.faults.apply(request, reply, { error: RATE_LIMIT_ERROR })) return reply;
        const body = request.body as ParsedBody | undefined;
        const refusal = this.authenticate(request, path, body?.raw ?? '');
        if (refusal) return bfxError(reply, refusal[0], refusal[1]);
        const value = body?.value;
        if (!value || typeof value !== 'object' || Array.isArray(value)) {
          return bfxError(reply, ERROR_CODES.params, 'body: invalid');
        }
        return handler(value as Record<string, unknown>, reply);
      });
    };

    route(PATHS.create, (body, reply) => this.createInvoice(body, 'ECOMMERCE', reply));
    route(PATHS.createPos, (body, reply) => this.createInvoice(body, 'POS', reply));

    route(PATHS.list, (body, reply) => {
      const start = numberField(body.start);
      const end = numberField(body.end);
      const limit = Math.min(100, numberField(body.limit) ?? 100);
      const items = this.sorted('desc', 't')
        .filter((invoice) => (typeof body.id === 'string' ? invoice.id === body.id : true))
        .filter((invoice) => (start === undefined || invoice.t >= start) && (end === undefined || invoice.t <= end))
        .slice(0, limit);
      return reply.send(items);
    });

    route(PATHS.listPaginated, (body, reply) => {
      const page = Math.max(1, numberField(body.page) ?? 1);
      const pageSize = Math.min(100, Math.max(1, numberField(body.pageSize) ?? 10));
      const sort = body.sort === 'asc' ? 'asc' : 'desc';
      const sortField = body.sortField === 'amount' || body.sortField === 'status' ? body.sortField : 't';
      const statuses = Array.isArray(body.status) ? body.status.filter((s): s is string => typeof s === 'string') : [];
      const all = this.sorted(sort, sortField).filter(
        (invoice) => statuses.length === 0 || statuses.includes(invoice.status),
      );
      return reply.send({
        page,
        pageSize,
        sort,
        sortField,
        totalPages: Math.max(1, Math.ceil(all.length / pageSize)),
        totalItems: all.length,
        items: all.slice((page - 1) * pageSize, page * pageSize),
      });
    });

    route(PATHS.complete, (body, reply) => {
      const invoice = typeof body.id === 'string' ? this.invoices.get(body.id) : undefined;
      if (!invoice) return bfxError(reply, ERROR_CODES.params, 'invoice: not found');
      const payCcy = typeof body.payCcy === 'string' ? body.payCcy : '';
      if (!invoice.payCurrencies.includes(payCcy)) return bfxError(reply, ERROR_CODES.params, 'payCcy: invalid');
      const depositId = numberField(body.depositId) ?? numberField((body.depositIds as unknown[] | undefined)?.[0]);
      const ledgerId = numberField(body.ledgerId);
      if (depositId === undefined && ledgerId === undefined) {
        return bfxError(reply, ERROR_CODES.params, 'depositId or ledgerId: required');
      }
      // UNCONFIRMED which states allow a manual complete: the sandbox allows CREATED and PENDING.
      if (invoice.status !== 'CREATED' && invoice.status !== 'PENDING') {
        return bfxError(reply, ERROR_CODES.params, `invoice: status ${invoice.status}`);
      }
      // A deposit is linked only if it exists in that currency: the invoice's own, or one not yet linked to any.
      const deposit = this.unlinkedDeposits.findIndex((d) => d.id === depositId && d.ccy === payCcy);
      const own = depositId !== undefined && invoice.payment?.depositId === depositId;
      if (depositId !== undefined && deposit < 0 && !own) {
        return bfxError(reply, ERROR_CODES.params, 'depositId: not found');
      }
      if (deposit >= 0) this.unlinkedDeposits.splice(deposit, 1);
      this.ctx.counter.inc('complete', invoice.orderId);
      const now = new Date().toISOString();
      const quote = invoice.invoices.find((entry) => entry.payCurrency === payCcy);
      invoice.payment = {
        txid: invoice.payment?.txid ?? randomBytes(32).toString('hex'),
        amount: quote?.amount ?? 0,
        currency: payCcy,
        method: payCcy.toLowerCase(),
        status: 'COMPLETED',
        confirmations: this.options.requiredConfirmations,
        createdAt: invoice.payment?.createdAt ?? now,
        updatedAt: now,
        depositId: depositId ?? null,
        ledgerId: ledgerId ?? null,
        forceCompleted: true,
        amountDiff: '0',
      };
      this.finish(invoice, 'COMPLETED');
      return reply.send(invoice);
    });

    route(PATHS.expire, (body, reply) => {
      const invoice = typeof body.id === 'string' ? this.invoices.get(body.id) : undefined;
      if (!invoice) return bfxError(reply, ERROR_CODES.params, 'invoice: not found');
      if (invoice.status === 'COMPLETED') return bfxError(reply, ERROR_CODES.params, 'invoice: already completed');
      if (invoice.status !== 'EXPIRED') this.finish(invoice, 'EXPIRED');
      return reply.send(invoice);
    });

    route(PATHS.depositsUnlinked, (body, reply) => {
      const ccy = typeof body.ccy === 'string' ? body.ccy : undefined;
      if (!ccy) return bfxError(reply, ERROR_CODES.params, 'ccy: required');
      return reply.send(this.unlinkedDeposits.filter((deposit) => deposit.ccy === ccy));
    });

    // The customer's side: paying the invoice from a crypto wallet.
    app.post('/_sandbox/invoices/:id/pay', (request, reply) => {
      const { id } = request.params as { id: string };
      const parsed = request.body as ParsedBody | undefined;
      const value = parsed?.value as Record<string, unknown> | undefined;
      const payCcy = typeof value?.payCcy === 'string' ? value.payCcy : undefined;
      try {
        const invoice = this.invoices.get(id);
        return reply.send(this.pay(id, payCcy ?? invoice?.payCurrencies[0] ?? 'BTC'));
      } catch (error) {
        return reply.code(409).send({ error: error instanceof Error ? error.message : String(error) });
      }
    });
    // The merchant's side: a deposit that reached the account without naming an invoice, for a manual complete.
    app.post('/_sandbox/deposits', (request, reply) => {
      const value = (request.body as ParsedBody | undefined)?.value as Record<string, unknown> | undefined;
      const ccy = typeof value?.ccy === 'string' ? value.ccy : undefined;
      const amount = numberField(value?.amount);
      if (!ccy || amount === undefined) return reply.code(400).send({ error: 'ccy and amount are required' });
      return reply.send({ id: this.addUnlinkedDeposit(ccy, amount), ccy, amount });
    });
    // Drift, for reconciliation: each names a Bitfinex invoice id.
    const drift = (reply: FastifyReply, run: () => unknown) => {
      try {
        return reply.send({ ok: true, result: run() ?? null });
      } catch (error) {
        return reply.code(409).send({ ok: false, error: error instanceof Error ? error.message : String(error) });
      }
    };
    const field = (request: FastifyRequest) =>
      ((request.body as ParsedBody | undefined)?.value ?? {}) as Record<string, unknown>;
    const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
    app.post('/_sandbox/drift/:id/settle-silently', (request, reply) =>
      drift(reply, () => this.settleSilently(idOf(request))),
    );
    app.post('/_sandbox/drift/:id/amount', (request, reply) =>
      drift(reply, () => this.changeAmount(idOf(request), Number(field(request).amount))),
    );
    app.post('/_sandbox/drift/:id/forget', (request, reply) => drift(reply, () => this.forget(idOf(request))));
    app.post('/_sandbox/drift/orphan', (request, reply) =>
      drift(reply, () => {
        const value = field(request);
        return this.createOrphan({
          amount: numberField(value.amount) ?? 10,
          currency: typeof value.currency === 'string' ? value.currency : 'USD',
          ...(typeof value.orderId === 'string' ? { orderId: value.orderId } : {}),
        });
      }),
    );
    app.get('/_sandbox/invoices/:id', (request, reply) => {
      const invoice = this.invoices.get((request.params as { id: string }).id);
      return invoice ? reply.send(invoice) : reply.code(404).send({ error: 'not found' });
    });
  }

  // --- Internals.

  private record(path: string, key: string, body: string): void {
    this.requestsByPath.set(path, (this.requestsByPath.get(path) ?? 0) + 1);
    this.requestLog.push({ path, key, at: Date.now(), body });
    if (this.requestLog.length > REQUEST_LOG_SIZE) this.requestLog.splice(0, this.requestLog.length - REQUEST_LOG_SIZE);
  }

  private withinRateLimit(key: string): boolean {
    const now = Date.now();
    const since = now - this.options.rateLimitWindowMs;
    const times = (this.requestTimes.get(key) ?? []).filter((at) => at > since);
    // Refused requests count too: a client hammering through its block stays blocked, as Bitfinex's IP ban does.
    times.push(now);
    this.requestTimes.set(key, times);
    return times.length <= this.options.rateLimitPerMinute;
  }

  private authenticate(request: FastifyRequest, path: string, raw: string): [number, string] | undefined {
    const key = headerValue(request, 'bfx-apikey');
    const nonce = headerValue(request, 'bfx-nonce');
    const signature = headerValue(request, 'bfx-signature');
    if (key !== SANDBOX_CREDENTIALS.apiKey) return [ERROR_CODES.auth, 'apikey: invalid'];
    if (!nonce || !/^\d{1,30}$/.test(nonce) || !signature) return [ERROR_CODES.auth, 'apikey: digest invalid'];
    if (!signatureMatches(sign(SANDBOX_CREDENTIALS.apiSecret, path, nonce, raw), signature)) {
      return [ERROR_CODES.auth, 'apikey: digest invalid'];
    }
    const value = BigInt(nonce);
    const last = this.lastNonce.get(key);
    if (last !== undefined && value <= last) return [ERROR_CODES.nonce, 'nonce: small'];
    this.lastNonce.set(key, value);
    return undefined;
  }

  private createInvoice(body: Record<string, unknown>, type: SandboxInvoice['type'], reply: FastifyReply): unknown {
    // The docs type amount as a number: a string is refused, so a client that sends one fails here, not in production.
    const amount = body.amount;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0) {
      return bfxError(reply, ERROR_CODES.params, 'amount: invalid');
    }
    const currency = typeof body.currency === 'string' ? body.currency : '';
    if (!/^[A-Z]{3}$/.test(currency)) return bfxError(reply, ERROR_CODES.params, 'currency: invalid');
    const payCurrencies = Array.isArray(body.payCurrencies)
      ? body.payCurrencies.filter((c): c is string => typeof c === 'string')
      : [];
    if (payCurrencies.length === 0) return bfxError(reply, ERROR_CODES.params, 'payCurrencies: invalid');
    const orderId = typeof body.orderId === 'string' ? body.orderId : '';
    if (!orderId) return bfxError(reply, ERROR_CODES.params, 'orderId: invalid');
    const duration = numberField(body.duration) ?? 900;
    if (duration < DURATION_BOUNDS.min || duration > DURATION_BOUNDS.max) {
      return bfxError(reply, ERROR_CODES.params, 'duration: invalid');
    }
    const customer = body.customerInfo;
    if (type === 'ECOMMERCE') {
      const info = customer as Record<string, unknown> | undefined;
      const required = ['nationality', 'residCountry', 'residCity', 'residZipCode', 'residStreet', 'fullName', 'email'];
      if (!info || typeof info !== 'object' || required.some((field) => typeof info[field] !== 'string')) {
        return bfxError(reply, ERROR_CODES.params, 'customerInfo: invalid');
      }
    }
    const invoice: SandboxInvoice = {
      id: randomUUID(),
      t: Date.now(),
      type,
      duration,
      amount,
      currency,
      orderId,
      payCurrencies,
      webhook: typeof body.webhook === 'string' ? body.webhook : null,
      redirectUrl: typeof body.redirectUrl === 'string' ? body.redirectUrl : null,
      status: 'CREATED',
      customerInfo:
        type === 'ECOMMERCE'
          ? { type: 'INDIVIDUAL', tosAccepted: false, ...(customer as Record<string, unknown>) }
          : null,
      invoices: payCurrencies.map((payCurrency) => ({
        amount: Number((amount / (FAKE_RATES[payCurrency] ?? 1)).toFixed(8)),
        currency: payCurrency,
        payCurrency,
        poolCurrency: payCurrency,
        address: `sandbox-${payCurrency.toLowerCase()}-${randomBytes(8).toString('hex')}`,
      })),
      payment: null,
      additionalPayments: [],
      merchantName: 'Sandbox Merchant',
    };
    this.invoices.set(invoice.id, invoice);
    this.ctx.counter.inc('invoice', orderId);
    this.timers.later(duration * 1000 * this.ctx.timeScale, () => {
      if (invoice.status === 'CREATED' || invoice.status === 'PENDING') this.finish(invoice, 'EXPIRED');
    });
    return reply.send(invoice);
  }

  private confirm(invoice: SandboxInvoice): void {
    this.timers.later(this.options.confirmationIntervalMs * this.ctx.timeScale, () => {
      const payment = invoice.payment;
      if (invoice.status !== 'PENDING' || !payment) return;
      payment.confirmations++;
      payment.updatedAt = new Date().toISOString();
      if (payment.confirmations >= this.options.requiredConfirmations) {
        payment.status = 'COMPLETED';
        this.finish(invoice, 'COMPLETED');
      } else {
        this.confirm(invoice);
      }
    });
  }

  private finish(invoice: SandboxInvoice, status: 'COMPLETED' | 'EXPIRED'): void {
    invoice.status = status;
    const url = invoice.webhook ?? this.ctx.webhookUrl('/bitfinex');
    this.ctx.webhooks.send({
      url,
      body: structuredClone(invoice),
      maxAttempts: this.options.webhookAttempts,
      backoffMs: Math.max(10, this.options.webhookBackoffMs * this.ctx.timeScale),
    });
  }

  private sorted(sort: 'asc' | 'desc', field: 't' | 'amount' | 'status'): SandboxInvoice[] {
    const direction = sort === 'asc' ? 1 : -1;
    return [...this.invoices.values()].sort((a, b) => {
      const left = a[field];
      const right = b[field];
      return (left < right ? -1 : left > right ? 1 : 0) * direction;
    });
  }
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function numberField(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function bfxError(reply: FastifyReply, code: number, message: string): FastifyReply {
  return reply.code(500).send(['error', code, message]);
}
