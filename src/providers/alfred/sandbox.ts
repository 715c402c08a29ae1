import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SandboxTimers, type ProviderSandbox, type SandboxContext } from '../sandbox/kit';
import { SANDBOX_STELLAR } from './auth';
import { SANDBOX_CREDENTIALS } from './client';
import { StellarAuthSandbox } from './sandbox-stellar';
import { formatLegacyDate } from './mapping';
import { eventSignatureHeader, legacySignature } from './webhook';

const API = '/third-party-service';
/** alfred's documented token lifetime. */
const TOKEN_TTL_MS = 120_000;

export interface AlfredSandboxOptions {
  /** How long alfred takes to pay out after our approval, before timeScale. */
  payoutDelayMs?: number;
  /** New users start at kyc:false, so the flow exercises the KYC-full upload. */
  newUsersNeedFullKyc?: boolean;
  /**
   * Attempts per webhook: alfred documents at least 10 retries, on an exponential backoff, each carrying the first
   * attempt's signature and date.
   */
  webhookAttempts?: number;
  /** First retry delay before timeScale; doubles each attempt. */
  webhookBackoffMs?: number;
  /** A new KYC-lite sign-in ends the user's previous token (UNCONFIRMED at alfred; off unless a test asks). */
  revokeOnSignIn?: boolean;
  /** How long a quote lives, before timeScale. UNCONFIRMED at alfred; its newer docs say quotes expire. */
  quoteTtlMs?: number;
  /** Approved pay-outs are not paid out until a test settles them (the drift `settleSilently`). */
  holdPayouts?: boolean;
}

/** The crypto side alfred deals in, and its value in USD (the sandbox's market). */
const CRYPTO_USD: Readonly<Record<string, number>> = { USDT: 1, USDC: 1, BTC: 60_000 };
/** Fiat units per USD, for the currencies alfred's markets and our invoices use. */
const FIAT_PER_USD: Readonly<Record<string, number>> = { USD: 1, ARS: 1_000, MXN: 17, BRL: 5, COP: 4_000, EUR: 0.92 };
/** The sandbox's commission, in the fiat currency, on every quote. */
const COMMISSION = 0.01;
/** Requests kept for tests to inspect; the oldest go first. */
const REQUEST_LOG_LIMIT = 2_000;

export interface SandboxQuote {
  quoteId: string;
  fromCurrency: string;
  toCurrency: string;
  fromAmount: string;
  toAmount: string;
  rate: string;
  fees: { type: string; amount: string; currency: string }[];
  expiresAt: number;
  /** Which side is fiat: submit's `amount` must be this side's amount. */
  fiat: 'from' | 'to';
}

/** A request as the sandbox received it: what contract tests assert the client sent. */
export interface RecordedRequest {
  method: string;
  /** Under the sandbox's mount, e.g. `/third-party-service/submit-transaction`. */
  path: string;
  headers: Record<string, string>;
  body: unknown;
  at: number;
}

type Body = Record<string, unknown>;
type Validation = 'isNotEmpty' | 'isString' | 'isNumber';

interface SandboxUser {
  email: string;
  kyc: boolean;
  banks: Map<string, Body & { id: string; bankNumber: string }>;
}

interface InitialTransaction {
  uuid: string;
  type: 'in' | 'out';
  balance: number;
  currency: string;
}

export interface SandboxTransaction {
  id: string;
  invoiceId: string;
  type: 'in' | 'out';
  user: string;
  businessInitTx: string;
  reference?: string;
  amount: number;
  currency: string;
  /** The quote submit named (`exchangeId`), and its sides: `amount` above is the fiat one. */
  exchangeId: string;
  fiatCurrency: string;
  cryptoAmount: string;
  /** The secret Approval Invoice must carry; UNCONFIRMED where alfred hands it out (the sandbox: the invoice view). */
  invoicehash: string;
  /** Where the crypto side is paid (Consult Payment Wallet). */
  walletpay: string;
  typeProcesor: string;
  /** `reversed`: the sandbox's drift after completion (alfred documents no such word; see METHOD_STATES). */
  methodStatus: 'pending' | 'completed' | 'reversed';
  estatus: 'pending' | 'approved' | 'cancel';
  expired: boolean;
  createdAt: number;
  completedAt?: number;
}

function asBody(value: unknown): Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Body) : {};
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * alfred's Penny API as its GitBook describes it, under /alfred/third-party-service. State is in memory; the
 * customer's side (paying a pay-in, alfred's own approval, expiry) is driven by the methods below or /_sandbox routes.
 */
export class AlfredSandbox implements ProviderSandbox {
  private readonly users = new Map<string, SandboxUser>();
  private readonly initialTransactions = new Map<string, InitialTransaction>();
  private readonly tokens = new Map<string, { email: string; expiresAt: number }>();
  private readonly transactions = new Map<string, SandboxTransaction>();
  private readonly invoices = new Map<string, string>();
  private readonly quotes = new Map<string, SandboxQuote>();
  /** Every API request, oldest first (up to REQUEST_LOG_LIMIT). */
  readonly requests: RecordedRequest[] = [];
  private readonly timers = new SandboxTimers();
  private readonly options: Required<AlfredSandboxOptions>;
  /** The Stellar variant's SEP-10 endpoint and its counts. */
  readonly stellar: StellarAuthSandbox;
  /** Requests that came in under the Stellar variant's base path. */
  private readonly stellarRequests = new WeakSet<FastifyRequest>();
  /** SEP-10 subject (account:memo) → the user whose KYC lite ran under it. */
  private readonly stellarUsers = new Map<string, string>();
  /** Each user's latest KYC-lite token, which revokeOnSignIn ends at the next sign-in. */
  private readonly latestLogin = new Map<string, string>();

  constructor(
    private readonly ctx: SandboxContext,
    options: AlfredSandboxOptions = {},
  ) {
    this.options = {
      payoutDelayMs: options.payoutDelayMs ?? 2_000,
      newUsersNeedFullKyc: options.newUsersNeedFullKyc ?? true,
      webhookAttempts: options.webhookAttempts ?? 11,
      webhookBackoffMs: options.webhookBackoffMs ?? 2_000,
      revokeOnSignIn: options.revokeOnSignIn ?? false,
      quoteTtlMs: options.quoteTtlMs ?? 60_000,
      holdPayouts: options.holdPayouts ?? false,
    };
    this.stellar = new StellarAuthSandbox(ctx.timeScale, ctx.counter, { revokeOnSignIn: this.options.revokeOnSignIn });
  }

  /** Switched by tests: sign-ins end the previous token of the same user, in both variants. */
  setRevokeOnSignIn(revoke: boolean): void {
    this.options.revokeOnSignIn = revoke;
    this.stellar.settings.revokeOnSignIn = revoke;
  }

  reset(): void {
    this.timers.clear();
    this.users.clear();
    this.initialTransactions.clear();
    this.tokens.clear();
    this.transactions.clear();
    this.invoices.clear();
    this.stellar.reset();
    this.stellarUsers.clear();
    this.latestLogin.clear();
    this.quotes.clear();
    this.requests.length = 0;
  }

  /** Requests received for `method` and a path matching `path`, oldest first. */
  received(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((entry) => entry.method === method && path.test(entry.path));
  }

  quote(quoteId: string): SandboxQuote | undefined {
    return this.quotes.get(quoteId);
  }

  /** How long quotes issued from now on live, before timeScale. */
  setQuoteTtlMs(ms: number): void {
    this.options.quoteTtlMs = ms;
  }

  /** Every quote issued so far expires now, as a slow customer would let them. */
  expireQuotes(): void {
    for (const quote of this.quotes.values()) quote.expiresAt = Math.min(quote.expiresAt, Date.now() - 1);
  }

  // --- The customer's and alfred's side, for tests and demos.

  /** Pay-in: the customer paid and alfred approves; the money is credited at once. */
  payIn(alfredInvoiceId: string): SandboxTransaction {
    const tx = this.byInvoice(alfredInvoiceId);
    if (tx.type !== 'in') throw new Error(`alfred invoice ${alfredInvoiceId} is a pay-out`);
    if (tx.estatus !== 'pending') throw new Error(`alfred invoice ${alfredInvoiceId} is ${tx.estatus}`);
    tx.estatus = 'approved';
    this.complete(tx);
    return tx;
  }

  /** alfred's own approval of a pay-in: the same as the customer's payment arriving. */
  approveAsAlfred(alfredInvoiceId: string): SandboxTransaction {
    return this.payIn(alfredInvoiceId);
  }

  expire(alfredInvoiceId: string): SandboxTransaction {
    const tx = this.byInvoice(alfredInvoiceId);
    tx.expired = true;
    return tx;
  }

  /** Every transaction submitted with our reference: tests prove a retried submit made one. */
  findByReference(reference: string): SandboxTransaction[] {
    return [...this.transactions.values()].filter((tx) => tx.reference === reference);
  }

  // --- Drift: alfred's books diverging from ours, as reconciliation must find them.

  /** Approved pay-outs wait, unpaid, until `settleSilently` (a payout alfred completes late, telling no one). */
  holdPayouts(hold: boolean): void {
    this.options.holdPayouts = hold;
  }

  /** The money moves and no webhook is sent: only a poll or a report can tell. */
  settleSilently(alfredInvoiceId: string): SandboxTransaction {
    const tx = this.byInvoice(alfredInvoiceId);
    tx.estatus = 'approved';
    tx.methodStatus = 'completed';
    tx.completedAt = Date.now();
    return tx;
  }

  /** A completed transaction taken back. */
  reverse(alfredInvoiceId: string): SandboxTransaction {
    const tx = this.byInvoice(alfredInvoiceId);
    if (tx.methodStatus !== 'completed') throw new Error(`alfred invoice ${alfredInvoiceId} is not completed`);
    tx.methodStatus = 'reversed';
    return tx;
  }

  /** The fiat amount alfred books for the transaction changes (a decimal, as alfred writes amounts). */
  changeAmount(alfredInvoiceId: string, amount: number): SandboxTransaction {
    if (!Number.isFinite(amount) || amount <= 0) throw new Error('amount must be a positive number');
    const tx = this.byInvoice(alfredInvoiceId);
    tx.amount = amount;
    return tx;
  }

  /** alfred loses the transaction and its invoice altogether. */
  forget(alfredInvoiceId: string): void {
    const tx = this.byInvoice(alfredInvoiceId);
    this.transactions.delete(tx.id);
    this.invoices.delete(tx.invoiceId);
  }

  /** A completed transaction no submit of ours created, under `reference` if given. */
  createOrphan(options: { amount: number; currency: string; reference?: string }): SandboxTransaction {
    const tx: SandboxTransaction = {
      id: randomUUID(),
      invoiceId: randomUUID(),
      type: 'in',
      user: `orphan-${randomUUID()}@example.com`,
      businessInitTx: randomUUID(),
      ...(options.reference ? { reference: options.reference } : {}),
      amount: options.amount,
      currency: 'USDT',
      exchangeId: randomUUID(),
      fiatCurrency: options.currency,
      cryptoAmount: String(options.amount),
      invoicehash: randomBytes(16).toString('hex'),
      walletpay: `sandbox-wallet-${randomUUID()}`,
      typeProcesor: 'BANK',
      methodStatus: 'completed',
      estatus: 'approved',
      expired: false,
      createdAt: Date.now(),
      completedAt: Date.now(),
    };
    this.transactions.set(tx.id, tx);
    this.invoices.set(tx.invoiceId, tx.id);
    return tx;
  }

  /** Ends every session's token now, as alfred's 2-minute expiry would. */
  expireTokens(): void {
    this.tokens.clear();
    this.stellar.expireTokens();
  }

  register(app: FastifyInstance): void {
    this.registerOperations(app);
    // The Stellar variant: the same operations under its own base path, signed in with SEP-10 instead of KYC lite.
    void app.register(
      (stellar, _options, done) => {
        stellar.addHook('onRequest', (request, _reply, next) => {
          this.stellarRequests.add(request);
          next();
        });
        this.stellar.register(stellar, (request, reply) => this.guard(request, reply));
        this.registerOperations(stellar, false);
        done();
      },
      { prefix: SANDBOX_STELLAR.basePath },
    );
  }

  private registerOperations(app: FastifyInstance, actions = true): void {
    app.post(`${API}/my-info`, (request, reply) =>
      this.handle(request, reply, { token: false }, (body) => {
        const invalid = this.validate(body, { type: 'isNotEmpty', balance: 'isNumber', currency: 'isNotEmpty' });
        if (invalid) return invalid;
        if (body.type !== 'in' && body.type !== 'out') return this.invalid([['type', 'isIn']]);
        // my-info's currency is the crypto side (BTC/USDT/USDC); a fiat code here is the bug issue #12 names.
        if (CRYPTO_USD[String(body.currency)] === undefined) return this.invalid([['currency', 'isIn']]);
        const uuid = randomUUID();
        this.initialTransactions.set(uuid, {
          uuid,
          type: body.type,
          balance: Number(body.balance),
          currency: String(body.currency),
        });
        this.ctx.counter.inc('initial_transaction', uuid);
        return [202, { statusCode: 202, message: 'my-info', data: { uuid, business: 'alfred sandbox business' } }];
      }),
    );

    app.post(`${API}/login-sof-kyc`, (request, reply) =>
      this.handle(request, reply, { token: false, signIn: true }, (body, _user, subject) => {
        const invalid = this.validate(body, {
          firstname: 'isNotEmpty',
          lastname: 'isNotEmpty',
          address: 'isNotEmpty',
          country: 'isNotEmpty',
          city: 'isNotEmpty',
          email: 'isNotEmpty',
          phonenumber: 'isNotEmpty',
          initial_transaction: 'isNotEmpty',
          zipcode: 'isNotEmpty',
          birthday: 'isNotEmpty',
        });
        if (invalid) return invalid;
        if (!/^[A-Z]{3}$/.test(String(body.country))) return this.invalid([['country', 'isISO31661Alpha3']]);
        if (!this.initialTransactions.has(String(body.initial_transaction))) {
          return [404, { statusCode: 404, message: 'initial transaction not found' }];
        }
        const email = String(body.email);
        let user = this.users.get(email);
        if (!user) {
          user = { email, kyc: !this.options.newUsersNeedFullKyc, banks: new Map() };
          this.users.set(email, user);
        }
        this.ctx.counter.inc('login', email);
        // Stellar: KYC lite runs under the SEP-10 token, whose subject stands for this user from now on.
        if (subject !== undefined) this.stellarUsers.set(subject, email);
        const token = subject !== undefined ? this.bearer(request) : this.signIn(email);
        return [202, { statusCode: 202, data: { token, kyc: user.kyc }, message: 'login-sof-kyc' }];
      }),
    );

    app.post(`${API}/kyc/upload-document`, (request, reply) =>
      this.handle(request, reply, { token: true }, (body, user) => {
        if (Object.keys(body).length === 0) return this.invalid([['document', 'isNotEmpty']]);
        user.kyc = true;
        this.ctx.counter.inc('kyc_upload', user.email);
        return [202, { statusCode: 202, data: { kyc: true }, message: 'kyc document' }];
      }),
    );

    app.post(`${API}/payment-method`, (request, reply) =>
      this.handle(request, reply, { token: true }, (_body, user) => [
        202,
        {
          statusCode: 202,
          message: 'thrid party login and payment methods',
          data: {
            token: this.issueToken(user.email),
            kyc: user.kyc,
            userBanks: [...user.banks.values()],
            paymentsMethods: {
              ATM: [{ id: 1, name: 'ATM cash-out', img: '' }],
              BANK: [
                {
                  id: 2,
                  name: 'Bank transfer',
                  img: '',
                  to_deposit: [{ account: '0000003100010000000001', owner: 'alfred sandbox', Id: '1', bank: 'COELSA' }],
                },
              ],
            },
          },
        },
      ]),
    );

    app.post(`${API}/update-bank`, (request, reply) =>
      this.handle(request, reply, { token: true }, (body, user) => {
        const invalid = this.validate(body, {
          bankName: 'isNotEmpty',
          bankNumber: 'isNotEmpty',
          bankAccountOwner: 'isNotEmpty',
          countryCode: 'isNotEmpty',
          DNI: 'isString',
        });
        if (invalid) return invalid;
        const bankNumber = String(body.bankNumber);
        const existing =
          (typeof body.id === 'string' ? user.banks.get(body.id) : undefined) ??
          [...user.banks.values()].find((bank) => bank.bankNumber === bankNumber);
        const id = existing?.id ?? randomUUID();
        if (!existing) this.ctx.counter.inc('bank', user.email);
        const bank = {
          id,
          bankName: String(body.bankName),
          bankNumber,
          bankAccountOwner: String(body.bankAccountOwner),
          countryCode: String(body.countryCode),
          DNI: String(body.DNI),
          icon: '',
          active: true,
        };
        user.banks.set(id, bank);
        return [
          202,
          { statusCode: 202, data: { statusCode: 202, message: 'banks user data', data: bank }, message: 'bank' },
        ];
      }),
    );

    app.post(`${API}/submit-transaction`, (request, reply) =>
      this.handle(request, reply, { token: true }, (body, user) => {
        const invalid = this.validate(body, {
          withdrawlPhone: 'isString',
          businessInitTx: 'isNotEmpty',
          BusinessTo: 'isString',
          exchangeId: 'isString',
          amount: 'isNumber',
          typeProcesor: 'isNotEmpty',
        });
        if (invalid) return invalid;
        if (body.typeProcesor !== 'BANK' && body.typeProcesor !== 'ATM') {
          return this.invalid([['typeProcesor', 'isIn']]);
        }
        const initial = this.initialTransactions.get(String(body.businessInitTx));
        if (!initial) return [404, { statusCode: 404, message: 'initial transaction not found' }];
        const quote = this.quotes.get(String(body.exchangeId));
        if (!quote) return this.invalid([['exchangeId', 'quote not found']]);
        if (quote.expiresAt <= Date.now()) return this.invalid([['exchangeId', 'quote expired']]);
        const crypto = quote.fiat === 'from' ? quote.toCurrency : quote.fromCurrency;
        if (crypto !== initial.currency) return this.invalid([['exchangeId', 'quote is for another currency']]);
        const fiatAmount = Number(quote.fiat === 'from' ? quote.fromAmount : quote.toAmount);
        if (Number(body.amount) !== fiatAmount) return this.invalid([['amount', 'differs from the quote']]);
        // A pay-out's my-info balance is the crypto the business sends: the quote's crypto amount.
        if (initial.type === 'out' && initial.balance !== Number(quote.fromAmount)) {
          return this.invalid([['balance', 'differs from the quote']]);
        }
        const tx: SandboxTransaction = {
          id: randomUUID(),
          invoiceId: randomUUID(),
          type: initial.type,
          user: user.email,
          businessInitTx: initial.uuid,
          ...(typeof body.reference === 'string' ? { reference: body.reference } : {}),
          amount: Number(body.amount),
          currency: initial.currency,
          exchangeId: quote.quoteId,
          fiatCurrency: quote.fiat === 'from' ? quote.fromCurrency : quote.toCurrency,
          cryptoAmount: quote.fiat === 'from' ? quote.toAmount : quote.fromAmount,
          invoicehash: randomBytes(16).toString('hex'),
          walletpay: `sandbox-wallet-${randomUUID()}`,
          typeProcesor: body.typeProcesor,
          methodStatus: 'pending',
          estatus: 'pending',
          expired: false,
          createdAt: Date.now(),
        };
        this.transactions.set(tx.id, tx);
        this.invoices.set(tx.invoiceId, tx.id);
        this.ctx.counter.inc('transaction', tx.reference ?? tx.businessInitTx);
        if (tx.type === 'out') this.sendApprovalRequest(tx);
        return [
          202,
          {
            statusCode: 202,
            message: 'master transaction webview',
            data: { id: tx.id, invoice: { id: tx.invoiceId } },
          },
        ];
      }),
    );

    app.put(`${API}/invoice/:id`, (request, reply) =>
      this.handle(request, reply, { token: false }, (body) => {
        const tx = this.findInvoice(request);
        if (!tx) return [404, { statusCode: 404, message: 'invoice not found' }];
        const wanted =
          body.status === 'approved'
            ? 'approved'
            : body.status === 'cancel' || body.status === 'cancelled'
              ? 'cancel'
              : undefined;
        if (!wanted) return this.invalid([['status', 'isIn']]);
        // Approval Invoice is pay-out only: alfred approves a pay-in itself, and the document offers no cancel of one.
        if (tx.type === 'in') return this.invalid([['status', 'pay-in invoices are approved by alfred']]);
        if (typeof body.invoicehash !== 'string' || body.invoicehash === '') {
          return this.invalid([['invoicehash', 'isNotEmpty']]);
        }
        if (body.invoicehash !== tx.invoicehash) return this.invalid([['invoicehash', 'does not match the invoice']]);
        if (tx.estatus === wanted) return [202, { statusCode: 202, data: true, message: 'update Invoice' }];
        if (tx.estatus !== 'pending' || tx.expired) {
          return this.invalid([['status', `invoice is ${tx.expired ? 'expired' : tx.estatus}`]]);
        }
        tx.estatus = wanted;
        if (wanted === 'approved' && !this.options.holdPayouts)
          this.timers.later(this.options.payoutDelayMs * this.ctx.timeScale, () => this.complete(tx));
        return [202, { statusCode: 202, data: true, message: 'update Invoice' }];
      }),
    );

    app.get(`${API}/invoice/:id`, (request, reply) =>
      this.handle(request, reply, { token: false }, () => {
        const tx = this.findInvoice(request);
        if (!tx) return [404, { statusCode: 404, message: 'invoice not found' }];
        return [202, { statusCode: 202, message: 'list invoice/transaction', data: this.invoiceView(tx) }];
      }),
    );

    app.get(`${API}/method/user/:id`, (request, reply) =>
      this.handle(request, reply, { token: false }, () => {
        const user = (request.params as { id: string }).id;
        const rows = [...this.transactions.values()].filter((tx) => tx.user === user).map((tx) => this.methodView(tx));
        return [202, { statusCode: 202, message: 'transactions', data: rows }];
      }),
    );

    app.get(`${API}/invoice`, (request, reply) =>
      this.handle(request, reply, { token: false }, () => {
        const rows = [...this.transactions.values()]
          .sort((a, b) => b.createdAt - a.createdAt)
          .map((tx) => this.invoiceView(tx));
        return [202, { statusCode: 202, message: 'list invoices', data: rows }];
      }),
    );

    app.post(`${API}/penny/quotes`, (request, reply) =>
      this.handle(request, reply, { token: false }, (body) => {
        const invalid = this.validate(body, { fromCurrency: 'isNotEmpty', toCurrency: 'isNotEmpty' });
        if (invalid) return invalid;
        const result = this.issueQuote(body);
        return typeof result === 'string'
          ? this.invalid([[result, 'isIn']])
          : [202, { statusCode: 202, message: 'quote', data: this.quoteView(result) }];
      }),
    );

    app.get(`${API}/payment-wallet/:id`, (request, reply) =>
      this.handle(request, reply, { token: false }, () => {
        const tx = this.findInvoice(request);
        if (!tx) return [404, { statusCode: 404, message: 'invoice not found' }];
        const wallet = {
          walletpay: tx.walletpay,
          memo: tx.invoiceId.slice(0, 8),
          network: 'polygon',
          chain: 'MATIC',
          balance: tx.cryptoAmount,
          currency: tx.currency,
        };
        return [202, { statusCode: 202, message: 'payment wallet', data: wallet }];
      }),
    );

    if (!actions) return;
    // Demo and test actions; no credentials, like a customer's browser.
    app.post('/_sandbox/invoices/:id/pay', async (request, reply) =>
      this.action(reply, () => this.payIn(this.param(request))),
    );
    app.post('/_sandbox/invoices/:id/expire', async (request, reply) =>
      this.action(reply, () => this.expire(this.param(request))),
    );
    app.post('/_sandbox/tokens/expire', async (_request, reply) => this.action(reply, () => this.expireTokens()));
    app.post('/_sandbox/quotes/expire', async (_request, reply) => this.action(reply, () => this.expireQuotes()));
    app.get('/_sandbox/transactions/:id', async (request, reply) =>
      this.action(reply, () => this.findByReference(this.param(request))),
    );
    // Drift, for reconciliation: each names an alfred invoice id.
    app.post('/_sandbox/drift/hold-payouts', async (request, reply) =>
      this.action(reply, () => this.holdPayouts(asBody(request.body).hold !== false)),
    );
    app.post('/_sandbox/drift/:id/settle-silently', async (request, reply) =>
      this.action(reply, () => this.settleSilently(this.param(request))),
    );
    app.post('/_sandbox/drift/:id/reverse', async (request, reply) =>
      this.action(reply, () => this.reverse(this.param(request))),
    );
    app.post('/_sandbox/drift/:id/amount', async (request, reply) =>
      this.action(reply, () => this.changeAmount(this.param(request), Number(asBody(request.body).amount))),
    );
    app.post('/_sandbox/drift/:id/forget', async (request, reply) =>
      this.action(reply, () => this.forget(this.param(request))),
    );
    app.post('/_sandbox/drift/orphan', async (request, reply) =>
      this.action(reply, () => {
        const body = asBody(request.body);
        return this.createOrphan({
          amount: Number(body.amount ?? 10),
          currency: typeof body.currency === 'string' ? body.currency : 'USD',
          ...(typeof body.reference === 'string' ? { reference: body.reference } : {}),
        });
      }),
    );
  }

  // --- Internals.

  /**
   * `signIn`: the KYC-lite route, which the Penny API opens with key and secret alone and the Stellar variant only
   * under a live SEP-10 token, whose subject the route receives.
   */
  private async handle(
    request: FastifyRequest,
    reply: FastifyReply,
    auth: { token: boolean; signIn?: boolean },
    route: (body: Body, user: SandboxUser, subject?: string) => [number, unknown],
  ): Promise<FastifyReply> {
    if (await this.guard(request, reply)) return reply;
    const stellar = this.stellarRequests.has(request);
    let user: SandboxUser = { email: '', kyc: false, banks: new Map() };
    let subject: string | undefined;
    if (auth.token || (auth.signIn && stellar)) {
      const raw = this.bearer(request);
      let email: string | undefined;
      if (stellar) {
        subject = this.stellar.subjectOf(raw);
        email = subject === undefined ? undefined : this.stellarUsers.get(subject);
      } else {
        const session = this.tokens.get(raw);
        email = session && session.expiresAt > Date.now() ? session.email : undefined;
      }
      const known = email === undefined ? undefined : this.users.get(email);
      // KYC lite needs only a live SEP-10 token; every other user call a known user behind its token.
      if (auth.token ? !known : subject === undefined) {
        // Counted per variant: tests prove a call met a dead token and was renewed, not failed.
        this.ctx.counter.inc('token_refused', stellar ? 'stellar' : 'penny');
        return reply.code(401).send({ statusCode: 401, message: 'token missing or expired', code: 'UNAUTHORIZED' });
      }
      if (known) user = known;
    }
    const [status, payload] = route(asBody(request.body), user, subject);
    return reply.code(status).send(payload);
  }

  /** Faults first, then the API key and secret every call carries; true when the request is answered already. */
  private async guard(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    if (await this.ctx.faults.apply(request, reply, { statusCode: 429, message: 'Too many requests' })) return true;
    this.record(request);
    const headers = request.headers;
    if (headers['api-key'] !== SANDBOX_CREDENTIALS.apiKey || headers['api-secret'] !== SANDBOX_CREDENTIALS.apiSecret) {
      // UNCONFIRMED: alfred says only "the same kind" of error; 401 with its envelope is the sandbox's answer.
      await reply.code(401).send({ statusCode: 401, message: 'invalid api-key or api-secret', code: 'UNAUTHORIZED' });
      return true;
    }
    return false;
  }

  private bearer(request: FastifyRequest): string {
    return String(request.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
  }

  /** A KYC-lite token; with revokeOnSignIn the user's previous one ends, as a one-session-per-user server would. */
  private signIn(email: string): string {
    const previous = this.latestLogin.get(email);
    if (previous && this.options.revokeOnSignIn) this.tokens.delete(previous);
    const token = this.issueToken(email);
    this.latestLogin.set(email, token);
    return token;
  }

  private record(request: FastifyRequest): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const path = request.url.replace(/^\/alfred/, '').split('?')[0] ?? '';
    this.requests.push({ method: request.method, path, headers, body: request.body ?? null, at: Date.now() });
    if (this.requests.length > REQUEST_LOG_LIMIT) this.requests.splice(0, this.requests.length - REQUEST_LOG_LIMIT);
  }

  /** A quote for either direction: one of the currencies is crypto, the other fiat; one amount is fixed. */
  private issueQuote(body: Body): SandboxQuote | 'fromCurrency' | 'toCurrency' | 'fromAmount' {
    const from = String(body.fromCurrency);
    const to = String(body.toCurrency);
    const fiat = CRYPTO_USD[from] === undefined ? 'from' : 'to';
    const fiatCode = fiat === 'from' ? from : to;
    const cryptoCode = fiat === 'from' ? to : from;
    const cryptoUsd = CRYPTO_USD[cryptoCode];
    const fiatPerUsd = FIAT_PER_USD[fiatCode];
    if (fiatPerUsd === undefined) return fiat === 'from' ? 'fromCurrency' : 'toCurrency';
    if (cryptoUsd === undefined) return fiat === 'from' ? 'toCurrency' : 'fromCurrency';
    const fixed = body.fromAmount ?? body.toAmount;
    const amount = Number(fixed);
    if (fixed === undefined || !Number.isFinite(amount) || amount <= 0) return 'fromAmount';
    // Fiat per unit of crypto; the commission is taken in fiat.
    const rate = cryptoUsd * fiatPerUsd;
    const fixesFrom = body.fromAmount !== undefined;
    const fiatFixed = (fiat === 'from') === fixesFrom;
    let fiatAmount: number;
    let cryptoAmount: number;
    if (fiatFixed) {
      fiatAmount = amount;
      const fee = fiatAmount * COMMISSION;
      // Pay-in: the customer's fiat less the fee buys crypto; pay-out: the fiat plus the fee costs crypto.
      cryptoAmount = fiat === 'from' ? (fiatAmount - fee) / rate : (fiatAmount + fee) / rate;
    } else {
      cryptoAmount = amount;
      fiatAmount =
        fiat === 'from' ? (cryptoAmount * rate) / (1 - COMMISSION) : (cryptoAmount * rate) / (1 + COMMISSION);
    }
    const fiatText = fiatAmount.toFixed(2);
    const cryptoText = cryptoAmount.toFixed(cryptoCode === 'BTC' ? 8 : 6);
    const quote: SandboxQuote = {
      quoteId: randomUUID(),
      fromCurrency: from,
      toCurrency: to,
      fromAmount: fiat === 'from' ? fiatText : cryptoText,
      toAmount: fiat === 'from' ? cryptoText : fiatText,
      rate: String(rate),
      fees: [{ type: 'commissionFee', amount: (Number(fiatText) * COMMISSION).toFixed(2), currency: fiatCode }],
      expiresAt: Date.now() + this.options.quoteTtlMs * this.ctx.timeScale,
      fiat,
    };
    this.quotes.set(quote.quoteId, quote);
    this.ctx.counter.inc('quote', quote.quoteId);
    return quote;
  }

  private quoteView(quote: SandboxQuote) {
    return {
      quoteId: quote.quoteId,
      fromCurrency: quote.fromCurrency,
      toCurrency: quote.toCurrency,
      fromAmount: quote.fromAmount,
      toAmount: quote.toAmount,
      rate: quote.rate,
      fees: quote.fees,
      expiration: new Date(quote.expiresAt).toISOString(),
      paymentMethodType: 'BANK',
    };
  }

  private async action(reply: FastifyReply, run: () => unknown): Promise<FastifyReply> {
    try {
      return reply.code(200).send({ ok: true, result: run() ?? null });
    } catch (error) {
      return reply.code(409).send({ ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }

  private param(request: FastifyRequest): string {
    return (request.params as { id: string }).id;
  }

  private validate(body: Body, spec: Record<string, Validation>): [number, unknown] | undefined {
    const failures: [string, Validation][] = [];
    for (const [field, rule] of Object.entries(spec)) {
      const value = body[field];
      if (rule === 'isNumber' && (typeof value !== 'number' || !Number.isFinite(value))) failures.push([field, rule]);
      if (rule === 'isString' && typeof value !== 'string') failures.push([field, rule]);
      if (rule === 'isNotEmpty' && (value === undefined || value === null || value === ''))
        failures.push([field, rule]);
    }
    return failures.length ? this.invalid(failures) : undefined;
  }

  private invalid(failures: [string, string][]): [number, unknown] {
    return [
      422,
      {
        statusCode: 422,
        message: 'A logic validation has not been fulfilled',
        reasons: failures.map(([path, validation]) => ({ message: `${path} failed ${validation}`, path, validation })),
        code: 'VALIDATION_ERROR',
      },
    ];
  }

  /** JWT-shaped and HMAC-signed like alfred's; `exp` in fractional seconds so a scaled lifetime stays exact. */
  private issueToken(email: string): string {
    const expiresAt = Date.now() + TOKEN_TTL_MS * this.ctx.timeScale;
    const head = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub: email, exp: expiresAt / 1000, jti: randomUUID() })}`;
    const signature = createHmac('sha256', SANDBOX_CREDENTIALS.apiSecret).update(head).digest('base64url');
    const token = `${head}.${signature}`;
    this.tokens.set(token, { email, expiresAt });
    return token;
  }

  private findInvoice(request: FastifyRequest): SandboxTransaction | undefined {
    const txId = this.invoices.get(this.param(request));
    return txId ? this.transactions.get(txId) : undefined;
  }

  private byInvoice(alfredInvoiceId: string): SandboxTransaction {
    const txId = this.invoices.get(alfredInvoiceId);
    const tx = txId ? this.transactions.get(txId) : undefined;
    if (!tx) throw new Error(`no alfred invoice ${alfredInvoiceId}`);
    return tx;
  }

  private complete(tx: SandboxTransaction): void {
    if (tx.methodStatus === 'completed' || tx.estatus !== 'approved') return;
    tx.methodStatus = 'completed';
    tx.completedAt = Date.now();
    const body = {
      referenceId: tx.id,
      eventType: tx.type === 'in' ? 'ONRAMP' : 'OFFRAMP',
      status: 'COMPLETED',
      metadata: { invoiceId: tx.invoiceId },
    };
    this.ctx.webhooks.send({
      url: this.ctx.webhookUrl('/alfred'),
      body,
      // Signed once, when the event happens, and the same signature re-sent on every retry, as alfred does: a
      // receiver must accept a retry as old as alfred's whole schedule, and can recognise it by its signature.
      headers: {
        signature: eventSignatureHeader(SANDBOX_CREDENTIALS.webhookSecret, JSON.stringify(body), Date.now()),
      },
      maxAttempts: this.options.webhookAttempts,
      backoffMs: this.options.webhookBackoffMs * this.ctx.timeScale,
    });
  }

  /** The legacy customer webhook: a pay-out waits for our approval. Its date is fixed at creation, as alfred's is. */
  private sendApprovalRequest(tx: SandboxTransaction): void {
    const date = formatLegacyDate(Date.now());
    this.ctx.webhooks.send({
      url: this.ctx.webhookUrl('/alfred'),
      headers: { 'x-api-key': SANDBOX_CREDENTIALS.apiKey },
      body: {
        invoices: tx.invoiceId,
        date_invoices: date,
        signature_invoices: legacySignature(SANDBOX_CREDENTIALS.webhookSecret, date, tx.invoiceId),
      },
      maxAttempts: this.options.webhookAttempts,
      backoffMs: this.options.webhookBackoffMs * this.ctx.timeScale,
    });
  }

  private methodView(tx: SandboxTransaction) {
    return {
      invoiceId: tx.invoiceId,
      type: tx.type,
      id: tx.id,
      transaction: tx.businessInitTx,
      reference: tx.reference,
      user: tx.user,
      kyc: 'true',
      country_withdraw: 'ARG',
      cashout: tx.typeProcesor,
      cash_amount: String(tx.amount),
      currency_pay: tx.fiatCurrency,
      rate: '1',
      status: tx.methodStatus,
      time_estimate_payout: '',
      time_payout: tx.completedAt ? new Date(tx.completedAt).toISOString() : '',
      commission: '0',
      KYB: 'false',
      date: new Date(tx.createdAt).toISOString(),
    };
  }

  private invoiceView(tx: SandboxTransaction) {
    return {
      id: tx.invoiceId,
      status_webview: tx.estatus,
      estatus_invoice: tx.estatus,
      start_time: new Date(tx.createdAt).toISOString(),
      end_time: tx.completedAt ? new Date(tx.completedAt).toISOString() : null,
      balance: tx.cryptoAmount,
      currency: tx.currency,
      user: tx.user,
      expire_invoice: tx.expired,
      walletpay: tx.walletpay,
      invoicehash: tx.invoicehash,
      memo: '',
      network: '',
      chain: '',
      method: this.methodView(tx),
    };
  }
}
