import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decimalToMinor, minorToDecimal, type CurrencyCode } from '../../domain/money';
import { SandboxTimers, type ProviderSandbox, type SandboxContext } from '../sandbox/kit';
import { DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN } from '../../config';
import { SANDBOX_CREDENTIALS, XPRIZO_API_VERSION, XPRIZO_MESSAGES, xprizoWebhookPath } from './constants';
import type { ApprovalStatusType, XprizoTransactionStatus } from './schemas';

/** Where a sandbox transaction is; the API reports these through StatusByReference (see `apiStatus`). */
type SandboxState = 'Pending' | 'Hold' | 'Active' | 'Voided' | 'Cancelled' | 'Rejected' | 'Expired';

export interface SandboxTransaction {
  id: number;
  key: string;
  reference: string;
  type: 'URP' | 'UUR';
  action?: number;
  fromAccountId: string;
  toAccountId: string;
  /** Minor units of `currencyCode`. */
  amount: number;
  currencyCode: CurrencyCode;
  state: SandboxState;
  createdAt: number;
  expiresAt: number;
}

interface Wallet {
  currency: CurrencyCode;
  /** Minor units. */
  balance: number;
}

export interface XprizoSandboxOptions {
  /** Currency of the merchant wallet; customer wallets opened implicitly share it (Xprizo needs equal currencies). */
  currency: CurrencyCode;
  /** Large by default so that only a test that means to run it dry does. */
  merchantBalanceMinor: number;
  /** Payment requests expire after 24 h (documented), scaled by timeScale. */
  requestTtlMs: number;
  /** How long Xprizo keeps re-sending the payment callback before voiding (documented 24 h), scaled. */
  callbackBudgetMs: number;
  /**
   * UNCONFIRMED whether Xprizo also sends an approval webhook (Accepted) when a held pay-out is released. We do by
   * default, so the invoice learns `settled` without waiting for a poll; StatusByReference says Active either way.
   */
  approvalWebhookOnRelease: boolean;
  /** The docs' Rejected sample nulls every transaction field; kept as the default. */
  nullFieldsOnReject: boolean;
  /**
   * The token in the webhook URLs the sandbox calls until SetApprovalWebhook / SetPaymentWebhook name others: the
   * development token, which the gateway accepts whenever XPRIZO_WEBHOOK_TOKEN is unset outside production. A stack
   * run with a token of its own registers its URLs, as a deployment does with the real Xprizo.
   */
  webhookToken: string;
}

const DAY_MS = 86_400_000;

/** A SetApprovalWebhook / SetPaymentWebhook call as the sandbox received it, for contract tests. */
export interface PreferenceCall {
  operation: 'SetApprovalWebhook' | 'SetPaymentWebhook';
  method: string;
  /** The path after the sandbox's `/xprizo` prefix, without the query. */
  path: string;
  /** Names of the query parameters sent. */
  query: string[];
  /** Where the URL came: `?url=` or a path segment. */
  form: 'query' | 'path';
  headers: Record<string, string | undefined>;
  body: unknown;
  url: string;
}

/**
 * The Xprizo wallet API as the docs describe it: payment requests a customer accepts or rejects in their wallet,
 * payments sent pending, committed or on hold, approval webhooks and the held payment's callback.
 */
export class XprizoSandbox implements ProviderSandbox {
  readonly options: XprizoSandboxOptions;
  approvalWebhookUrl?: string;
  paymentWebhookUrl?: string;
  /** Every webhook registration received, valid or not, oldest first. */
  readonly preferenceCalls: PreferenceCall[] = [];
  private readonly byReference = new Map<string, SandboxTransaction>();
  private readonly byKey = new Map<string, SandboxTransaction>();
  private readonly wallets = new Map<string, Wallet>();
  private readonly timers = new SandboxTimers();
  private nextId = 5000;

  constructor(
    private readonly ctx: SandboxContext,
    options: Partial<XprizoSandboxOptions> = {},
  ) {
    this.options = {
      currency: 'USD',
      merchantBalanceMinor: 1_000_000_000_00,
      requestTtlMs: DAY_MS * ctx.timeScale,
      callbackBudgetMs: DAY_MS * ctx.timeScale,
      approvalWebhookOnRelease: true,
      nullFieldsOnReject: true,
      webhookToken: DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN,
      ...options,
    };
    this.reset();
  }

  reset(): void {
    this.timers.clear();
    this.byReference.clear();
    this.byKey.clear();
    this.wallets.clear();
    this.wallets.set(SANDBOX_CREDENTIALS.merchantAccountId, {
      currency: this.options.currency,
      balance: this.options.merchantBalanceMinor,
    });
    this.approvalWebhookUrl = undefined;
    this.paymentWebhookUrl = undefined;
    this.preferenceCalls.length = 0;
  }

  // --- In-process handles for tests and the dev stack.

  transaction(reference: string): SandboxTransaction | undefined {
    return this.byReference.get(reference);
  }

  setMerchantBalance(minor: number): void {
    this.wallet(SANDBOX_CREDENTIALS.merchantAccountId).balance = minor;
  }

  merchantBalance(): number {
    return this.wallet(SANDBOX_CREDENTIALS.merchantAccountId).balance;
  }

  /**
   * The customer approves the payment request in their wallet. `announce: false` sends no Accepted webhook, for a
   * test that delivers one of its own (seed 002's sample).
   */
  acceptRequest(reference: string, { announce = true }: { announce?: boolean } = {}): SandboxTransaction {
    const tx = this.pendingTransaction(reference);
    this.move(tx);
    tx.state = 'Active';
    if (announce) this.sendApproval(tx, 2);
    return tx;
  }

  /** The customer rejects the payment request. */
  rejectRequest(reference: string): SandboxTransaction {
    const tx = this.pendingTransaction(reference);
    tx.state = 'Rejected';
    this.sendApproval(tx, 3);
    return tx;
  }

  register(app: FastifyInstance): void {
    const api = (handler: (request: FastifyRequest, reply: FastifyReply) => unknown) => {
      return async (request: FastifyRequest, reply: FastifyReply) => {
        if (await this.ctx.faults.apply(request, reply)) return reply;
        if (request.headers['x-api-key'] !== SANDBOX_CREDENTIALS.apiKey) {
          return reply.code(401).send({ title: 'Unauthorized', status: 401, detail: 'invalid or expired api key' });
        }
        if (request.headers['x-api-version'] !== XPRIZO_API_VERSION) {
          return reply.code(400).type('text/plain').send(`Unsupported api version`);
        }
        return handler(request, reply);
      };
    };

    app.post(
      '/Transaction/RequestPayment',
      api((request, reply) => {
        const body = transferBody(request.body);
        if (!body) return badRequest(reply, 'fromAccountId, toAccountId, reference and amount are required');
        const duplicate = this.duplicateMessage(body.reference);
        if (duplicate) return badRequest(reply, duplicate);
        const merchant = this.wallets.get(body.toAccountId);
        if (!merchant) return badRequest(reply, 'Account not found');
        const payer = this.wallet(body.fromAccountId, merchant.currency);
        if (payer.currency !== merchant.currency) return badRequest(reply, 'Both wallets must use the same currency');
        const amount = this.minor(body.amount, merchant.currency);
        if (amount === undefined) return badRequest(reply, 'Invalid amount');
        const tx = this.create({ ...body, amount, currencyCode: merchant.currency, type: 'URP' }, 'Pending');
        this.sendApproval(tx, 1);
        return reply.send({
          key: tx.key,
          approveById: Number(body.fromAccountId) || body.fromAccountId,
          ttl: Math.round((tx.expiresAt - Date.now()) / 1000),
          expiryDate: new Date(tx.expiresAt).toISOString(),
        });
      }),
    );

    app.post(
      '/Transaction/SendPayment',
      api((request, reply) => {
        const query = request.query as Record<string, string | undefined>;
        const action = query.action === undefined || query.action === '' ? undefined : Number(query.action);
        if (action !== undefined && action !== 1 && action !== 2) return badRequest(reply, 'Invalid action');
        const body = transferBody(request.body);
        if (!body) return badRequest(reply, 'fromAccountId, toAccountId, reference and amount are required');
        const duplicate = this.duplicateMessage(body.reference);
        if (duplicate) return badRequest(reply, duplicate);
        const merchant = this.wallets.get(body.fromAccountId);
        if (!merchant) return badRequest(reply, 'Account not found');
        const amount = this.minor(body.amount, merchant.currency);
        if (amount === undefined) return badRequest(reply, 'Invalid amount');
        if (merchant.balance < amount) return badRequest(reply, XPRIZO_MESSAGES.insufficientFunds);
        const state: SandboxState = action === 1 ? 'Active' : action === 2 ? 'Hold' : 'Pending';
        const tx = this.create({ ...body, amount, currencyCode: merchant.currency, type: 'UUR', action }, state);
        if (state === 'Active') this.move(tx);
        if (state === 'Hold') {
          // Reserved now, returned if the hold is voided.
          merchant.balance -= amount;
          this.sendPaymentCallback(tx);
        }
        if (state === 'Pending') this.sendApproval(tx, 1);
        return reply.send({ key: tx.key });
      }),
    );

    app.get(
      '/Transaction/ApprovalAccept',
      api((request, reply) => {
        const tx = this.byKey.get(queryParam(request, 'key'));
        if (!tx || tx.state !== 'Pending') return badRequest(reply, 'Transaction not found or not pending');
        this.move(tx);
        tx.state = 'Active';
        this.sendApproval(tx, 2);
        return reply.send();
      }),
    );

    app.get(
      '/Transaction/ApprovalCancel',
      api((request, reply) => {
        const tx = this.byKey.get(queryParam(request, 'key'));
        if (!tx || (tx.state !== 'Pending' && tx.state !== 'Hold')) {
          return badRequest(reply, 'Transaction not found or not pending');
        }
        if (tx.state === 'Hold') {
          this.voidHold(tx);
        } else {
          tx.state = 'Cancelled';
          this.sendApproval(tx, 4);
        }
        return reply.send();
      }),
    );

    const statusByReference = api((request, reply) => {
      const reference = queryParam(request, 'reference');
      // Counted, so a test can show which webhooks made us ask Xprizo and which never got that far.
      this.ctx.counter.inc('statusByReference', reference);
      const tx = this.byReference.get(reference);
      const status = tx ? apiStatus(tx.state) : 'NotFound';
      if (!tx || status === 'NotFound') return reply.send({ reference, status: 'NotFound' });
      return reply.send({
        reference,
        status,
        key: tx.key,
        transactionId: tx.id,
        amount: Number(minorToDecimal(tx.amount, tx.currencyCode)),
        currencyCode: tx.currencyCode,
      });
    });
    app.get('/Transaction/StatusByReference', statusByReference);
    app.get('/Transaction/StatusByReference/:accountId', statusByReference);

    // Both forms are accepted: `?url=` (current docs) and a path segment (seed 002), each URL-encoded.
    const setUrl = (which: 'approval' | 'payment') =>
      api((request, reply) => {
        const query = request.query as Record<string, unknown>;
        const fromQuery = query.url;
        const fromPath = (request.params as Record<string, unknown>).url;
        const url = typeof fromQuery === 'string' ? fromQuery : typeof fromPath === 'string' ? fromPath : '';
        this.preferenceCalls.push({
          operation: which === 'approval' ? 'SetApprovalWebhook' : 'SetPaymentWebhook',
          method: request.method,
          path: request.url.split('?')[0]?.replace(/^\/xprizo/, '') ?? '',
          query: Object.keys(query),
          form: typeof fromPath === 'string' ? 'path' : 'query',
          headers: { ...headerValues(request) },
          body: request.body,
          url,
        });
        if (!/^https?:\/\//.test(url)) return badRequest(reply, 'Invalid url');
        if (which === 'approval') this.approvalWebhookUrl = url;
        else this.paymentWebhookUrl = url;
        return reply.send();
      });
    app.put('/Preference/SetApprovalWebhook', setUrl('approval'));
    app.put('/Preference/SetApprovalWebhook/:url', setUrl('approval'));
    app.put('/Preference/SetPaymentWebhook', setUrl('payment'));
    app.put('/Preference/SetPaymentWebhook/:url', setUrl('payment'));

    // The customer's side, for tests and demos: what they would do in the Xprizo wallet app.
    app.post('/_sandbox/requests/:reference/accept', (request, reply) =>
      this.customerAction(reply, () => this.acceptRequest((request.params as { reference: string }).reference)),
    );
    app.post('/_sandbox/requests/:reference/reject', (request, reply) =>
      this.customerAction(reply, () => this.rejectRequest((request.params as { reference: string }).reference)),
    );
    app.get('/_sandbox/transactions/:reference', (request, reply) => {
      const tx = this.byReference.get((request.params as { reference: string }).reference);
      return tx ? reply.send(tx) : reply.code(404).send({ error: 'not found' });
    });
  }

  // --- Internals.

  private customerAction(reply: FastifyReply, action: () => SandboxTransaction): FastifyReply {
    try {
      return reply.send(action());
    } catch (error) {
      return reply.code(409).send({ error: error instanceof Error ? error.message : String(error) });
    }
  }

  private pendingTransaction(reference: string): SandboxTransaction {
    const tx = this.byReference.get(reference);
    if (!tx || tx.type !== 'URP') throw new Error(`no payment request ${reference}`);
    if (tx.state !== 'Pending') throw new Error(`payment request ${reference} is ${tx.state}`);
    return tx;
  }

  private duplicateMessage(reference: string): string | undefined {
    const existing = this.byReference.get(reference);
    if (!existing) return undefined;
    return existing.state === 'Pending' || existing.state === 'Hold'
      ? XPRIZO_MESSAGES.duplicatePendingReference
      : XPRIZO_MESSAGES.duplicateReference;
  }

  private wallet(id: string, currency: CurrencyCode = this.options.currency): Wallet {
    let wallet = this.wallets.get(id);
    if (!wallet) {
      // Customer wallets open on first use with plenty of money: the sandbox is about flows, not their balance.
      wallet = { currency, balance: 1_000_000_000_00 };
      this.wallets.set(id, wallet);
    }
    return wallet;
  }

  private minor(amount: number, currency: CurrencyCode): number | undefined {
    try {
      const minor = decimalToMinor(amount, currency);
      return minor > 0 ? minor : undefined;
    } catch {
      return undefined;
    }
  }

  private create(
    fields: Omit<SandboxTransaction, 'id' | 'key' | 'state' | 'createdAt' | 'expiresAt'>,
    state: SandboxState,
  ): SandboxTransaction {
    const id = this.nextId++;
    const now = Date.now();
    const tx: SandboxTransaction = {
      ...fields,
      id,
      key: String(id),
      state,
      createdAt: now,
      expiresAt: now + this.options.requestTtlMs,
    };
    this.byReference.set(tx.reference, tx);
    this.byKey.set(tx.key, tx);
    this.ctx.counter.inc('transaction', tx.reference);
    if (state === 'Pending') {
      this.timers.later(this.options.requestTtlMs, () => {
        if (tx.state === 'Pending') tx.state = 'Expired';
      });
    }
    return tx;
  }

  private move(tx: SandboxTransaction): void {
    const from = this.wallet(tx.fromAccountId, tx.currencyCode);
    // A held amount was reserved when the hold began.
    if (tx.state !== 'Hold') from.balance -= tx.amount;
    this.wallet(tx.toAccountId, tx.currencyCode).balance += tx.amount;
  }

  private voidHold(tx: SandboxTransaction): void {
    if (tx.state !== 'Hold') return;
    tx.state = 'Voided';
    this.wallet(tx.fromAccountId, tx.currencyCode).balance += tx.amount;
  }

  private releaseHold(tx: SandboxTransaction): void {
    if (tx.state !== 'Hold') return;
    this.move(tx);
    tx.state = 'Active';
    if (this.options.approvalWebhookOnRelease) this.sendApproval(tx, 2);
  }

  private sendApproval(tx: SandboxTransaction, statusType: ApprovalStatusType): void {
    const nulled = statusType === 3 && this.options.nullFieldsOnReject;
    const names = ['None', 'New', 'Accepted', 'Rejected', 'Cancelled'] as const;
    const body = {
      statusType,
      status: names[statusType],
      description: `${tx.type} ${names[statusType]}`,
      actionedById: 1,
      affectedContactIds: [],
      transaction: nulled
        ? { id: null, createdById: null, type: null, date: null, reference: null, currencyCode: null, amount: null }
        : {
            // New carries id 0: the transaction is not processed yet.
            id: statusType === 1 ? 0 : tx.id,
            createdById: 2,
            type: tx.type,
            date: new Date(tx.createdAt).toISOString(),
            reference: tx.reference,
            currencyCode: tx.currencyCode,
            amount: Number(minorToDecimal(tx.amount, tx.currencyCode)),
          },
    };
    this.ctx.webhooks.send({
      url: this.approvalWebhookUrl ?? this.ctx.webhookUrl(xprizoWebhookPath(this.options.webhookToken, 'approval')),
      body,
      // "Must reply 200": retried until it does, a handful of times, on a backoff scaled for tests.
      maxAttempts: 10,
      backoffMs: Math.max(10, 2_000 * this.ctx.timeScale),
    });
  }

  /**
   * The held payment's callback: re-sent until answered. 200 releases the hold; any other answer voids it at once;
   * no answer (0: refused connection, timeout) keeps it going until the 24 h budget runs out, which voids it too.
   */
  private sendPaymentCallback(tx: SandboxTransaction): void {
    const budget = this.options.callbackBudgetMs;
    const backoffMs = Math.max(10, 60_000 * this.ctx.timeScale);
    // Enough doubling retries to span the budget; the timer below voids at its end whatever the sender is doing.
    const maxAttempts = Math.max(2, Math.ceil(Math.log2(budget / backoffMs + 1)) + 1);
    this.timers.later(budget, () => this.voidHold(tx));
    this.ctx.webhooks.send({
      url: this.paymentWebhookUrl ?? this.ctx.webhookUrl(xprizoWebhookPath(this.options.webhookToken, 'payment')),
      body: {
        id: tx.id,
        currencyCode: tx.currencyCode,
        amount: Number(minorToDecimal(tx.amount, tx.currencyCode)),
        reference: tx.reference,
      },
      maxAttempts,
      backoffMs,
      onAnswer: (status) => {
        if (tx.state !== 'Hold') return 'stop';
        if (status === 0) return 'continue';
        if (status === 200) this.releaseHold(tx);
        else this.voidHold(tx);
        return 'stop';
      },
    });
  }
}

/** What StatusByReference reports for a sandbox state: the docs' three values, plus Hold for a held payment. */
function apiStatus(state: SandboxState): XprizoTransactionStatus {
  switch (state) {
    case 'Pending':
      return 'Pending';
    case 'Hold':
      return 'Hold';
    case 'Active':
      return 'Active';
    case 'Voided':
    case 'Cancelled':
    case 'Rejected':
    case 'Expired':
      return 'NotFound';
    default: {
      const unreachable: never = state;
      throw new Error(`unknown state ${String(unreachable)}`);
    }
  }
}

function transferBody(
  body: unknown,
): { fromAccountId: string; toAccountId: string; reference: string; amount: number } | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  const { fromAccountId, toAccountId, reference, amount } = record;
  const id = (value: unknown) =>
    typeof value === 'number' || (typeof value === 'string' && value.length > 0) ? String(value) : undefined;
  const from = id(fromAccountId);
  const to = id(toAccountId);
  if (!from || !to || typeof reference !== 'string' || !reference || typeof amount !== 'number') return undefined;
  return { fromAccountId: from, toAccountId: to, reference, amount };
}

function badRequest(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).type('text/plain').send(message);
}

function queryParam(request: FastifyRequest, name: string): string {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

function headerValues(request: FastifyRequest): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
