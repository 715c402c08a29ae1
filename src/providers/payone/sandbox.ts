import { randomInt } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CURRENCIES } from '../../domain/money';
import type { ProviderSandbox, SandboxContext } from '../sandbox/kit';
import { SANDBOX_CREDENTIALS } from './client';
import { parseExpiryPeriod, type PayOneState } from './mapping';

export interface PayOneSandboxOptions {
  /** Created invoices start inactive and need activateInvoice (a merchant setting at PayOne); default active. */
  createdInactive?: boolean;
}

export interface SandboxInvoice {
  invoiceID: string;
  amount: number;
  currency: string;
  status: PayOneState;
  preAuth: boolean;
  expiresAt: number;
  paymentDescription: string;
  authorizedAmount?: number;
  rrn?: string;
  approvalCode?: string;
}

/** A request as the sandbox received it, for contract tests: what was sent, never the credentials' values. */
export interface ReceivedRequest {
  op: string;
  method: string;
  path: string;
  contentType?: string;
  accept?: string;
  /** The names of the form's fields (PayOne's single `invoice`). */
  formFields: string[];
  /** The names of the fields of the `invoice` JSON, and of its first invoicesDetails item when it has one. */
  invoiceFields: string[];
  detailFields?: string[];
  invoiceID?: string;
}

type Item = Record<string, unknown>;
const MAX_RECEIVED = 1000;
const KNOWN_NUMERIC = new Set<string>(Object.values(CURRENCIES).map((currency) => currency.numeric));
const CREATE_OPS = new Set(['createInvoice', 'createPreAuthInvoice']);

function asItem(value: unknown): Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Item) : {};
}

function digits(length: number): string {
  return Array.from({ length }, () => randomInt(10)).join('');
}

/**
 * PayOne SmartLink's InvoicesService under /payone/rest/InvoicesService/<op>. Bad merchant credentials get HTTP 401
 * (PayOne documents no error format: UNCONFIRMED); a refused operation answers 200 with its status text, as the docs'
 * per-invoice `status` suggests. No webhooks: PayOne documents none.
 */
export class PayOneSandbox implements ProviderSandbox {
  private readonly invoices = new Map<string, SandboxInvoice>();
  private readonly statusWords = new Map<string, string>();
  private readonly log: ReceivedRequest[] = [];

  constructor(
    private readonly ctx: SandboxContext,
    private readonly options: PayOneSandboxOptions = {},
  ) {}

  reset(): void {
    this.invoices.clear();
    this.statusWords.clear();
    this.log.length = 0;
  }

  /** The InvoicesService requests received so far, oldest first; `invoiceID` narrows them to one invoice's. */
  received(invoiceID?: string): ReceivedRequest[] {
    return this.log.filter((request) => invoiceID === undefined || request.invoiceID === invoiceID);
  }

  /**
   * inquireInvoice answers `word` as this invoice's status, whatever its state, until cleared with undefined: PayOne's
   * status words are UNCONFIRMED, and this is how a test meets one our table lacks.
   */
  answerStatusAs(invoiceID: string, word: string | undefined): void {
    if (word === undefined) this.statusWords.delete(invoiceID);
    else this.statusWords.set(invoiceID, word);
  }

  /** Switches the merchant setting at run time (tests of the activate path). */
  setCreatedInactive(value: boolean): void {
    this.options.createdInactive = value;
  }

  get(invoiceID: string): SandboxInvoice | undefined {
    const invoice = this.invoices.get(invoiceID);
    if (invoice) this.refresh(invoice);
    return invoice;
  }

  /** The customer pre-authorizes on the SmartLink page, for `amount` (default: the invoice amount). */
  preAuthorize(invoiceID: string, amount?: number): SandboxInvoice {
    const invoice = this.mustGet(invoiceID);
    if (!invoice.preAuth) throw new Error(`${invoiceID} is a payment invoice, not a pre-auth one`);
    if (invoice.status !== 'active') throw new Error(`${invoiceID} is ${invoice.status}, not active`);
    invoice.status = 'pre-authorized';
    invoice.authorizedAmount = amount ?? invoice.amount;
    invoice.approvalCode = digits(6);
    return invoice;
  }

  /** The customer pays a payment (non-pre-auth) invoice. */
  pay(invoiceID: string): SandboxInvoice {
    const invoice = this.mustGet(invoiceID);
    if (invoice.preAuth) throw new Error(`${invoiceID} is a pre-auth invoice: pre-authorize it`);
    if (invoice.status !== 'active') throw new Error(`${invoiceID} is ${invoice.status}, not active`);
    invoice.status = 'paid';
    invoice.rrn = digits(30);
    return invoice;
  }

  register(app: FastifyInstance): void {
    app.post('/rest/InvoicesService/:op', async (request, reply) => {
      if (await this.ctx.faults.apply(request, reply, { status: 'failed', statusDescription: 'Too many requests' })) {
        return reply;
      }
      const op = (request.params as { op: string }).op;
      const form = asItem(request.body);
      const raw = form.invoice;
      let invoice: Item;
      try {
        invoice = asItem(JSON.parse(typeof raw === 'string' ? raw : ''));
      } catch {
        return reply.code(400).send({ status: 'failed', statusDescription: 'the invoice parameter is not JSON' });
      }
      this.record(op, request, form, invoice);
      if (
        invoice.merchantID !== SANDBOX_CREDENTIALS.merchantId ||
        invoice.authenticationToken !== SANDBOX_CREDENTIALS.authToken
      ) {
        return reply
          .code(401)
          .send({ status: 'failed', statusDescription: 'Invalid merchantID or authenticationToken' });
      }
      const echo = { merchantID: invoice.merchantID, authenticationToken: invoice.authenticationToken };
      if (CREATE_OPS.has(op) || op === 'completeInvoice') {
        if (!Array.isArray(invoice.invoicesDetails) || invoice.invoicesDetails.length === 0) {
          return reply.code(400).send({ status: 'failed', statusDescription: 'invoicesDetails is required' });
        }
        const items = invoice.invoicesDetails.map(asItem);
        const results = CREATE_OPS.has(op)
          ? items.map((item) => this.create(item, op === 'createPreAuthInvoice', request))
          : items.map((item) => this.complete(item));
        return reply.code(200).send({ ...echo, invoicesDetails: results });
      }
      const invoiceID = typeof invoice.invoiceID === 'string' ? invoice.invoiceID : '';
      if (!invoiceID) return reply.code(400).send({ status: 'failed', statusDescription: 'invoiceID is required' });
      switch (op) {
        case 'activateInvoice':
          return reply.code(200).send({ invoiceID, status: this.activate(invoiceID), ...echo });
        case 'deactivateInvoice':
          return reply.code(200).send({ invoiceID, status: this.deactivate(invoiceID), ...echo });
        case 'inquireInvoice': {
          const found = this.get(invoiceID);
          if (!found) return reply.code(404).send({ status: 'failed', statusDescription: 'Invoice not found' });
          return reply.code(200).send({
            ...echo,
            invoiceID,
            status: this.statusWords.get(invoiceID) ?? found.status,
            amount: String(found.amount),
            currency: found.currency,
            ...(found.authorizedAmount !== undefined ? { authorizedAmount: String(found.authorizedAmount) } : {}),
            ...(found.rrn ? { rrn: found.rrn } : {}),
            ...(found.approvalCode
              ? { approvalCode: found.approvalCode, cardType: 'VISA', cardNumber: '411111******1111' }
              : {}),
          });
        }
        default:
          return reply.code(404).send({ status: 'failed', statusDescription: `no service ${op}` });
      }
    });

    app.post('/_sandbox/invoices/:id/preauthorize', async (request, reply) =>
      this.action(reply, () => {
        const amount = asItem(request.body).amount;
        return this.preAuthorize(this.param(request), typeof amount === 'number' ? amount : undefined);
      }),
    );
    app.post('/_sandbox/invoices/:id/pay', async (request, reply) =>
      this.action(reply, () => this.pay(this.param(request))),
    );
    app.get('/_sandbox/invoices/:id', async (request, reply) =>
      this.action(reply, () => this.mustGet(this.param(request))),
    );
  }

  private create(item: Item, preAuth: boolean, request: FastifyRequest): Item {
    const invoiceID = typeof item.invoiceID === 'string' ? item.invoiceID : '';
    const fail = (statusDescription: string) => ({ invoiceID, status: 'failed', statusDescription });
    if (!/^[A-Za-z0-9_-]{1,60}$/.test(invoiceID)) return fail('invoiceID is required (alphanumeric, max 60)');
    if (typeof item.amount !== 'string' || !/^\d+$/.test(item.amount)) return fail('amount must be digits only');
    if (typeof item.currency !== 'string' || !KNOWN_NUMERIC.has(item.currency)) return fail('unknown currency');
    const expiry = typeof item.expiryperiod === 'string' ? parseExpiryPeriod(item.expiryperiod) : undefined;
    if (!expiry) return fail('expiryperiod must be a number followed by D, H or MI');
    if (typeof item.paymentDescription !== 'string' || !item.paymentDescription) {
      return fail('paymentDescription is required');
    }
    if (this.invoices.has(invoiceID)) return fail('Duplicate invoice ID');
    this.invoices.set(invoiceID, {
      invoiceID,
      amount: Number(item.amount),
      currency: item.currency,
      status: this.options.createdInactive ? 'inactive' : 'active',
      preAuth,
      expiresAt: Date.now() + expiry * this.ctx.timeScale,
      paymentDescription: item.paymentDescription,
    });
    this.ctx.counter.inc('invoice', invoiceID);
    return {
      invoiceID,
      status: 'success',
      statusDescription: 'Invoice created successfully',
      paymentLink: `${request.protocol}://${request.headers.host ?? 'localhost'}/payone/_sandbox/invoices/${invoiceID}`,
    };
  }

  private complete(item: Item): Item {
    const invoiceID = typeof item.invoiceID === 'string' ? item.invoiceID : '';
    const result = (status: 'success' | 'failed', statusDescription: string, rrn?: string) => ({
      invoiceID,
      amount: item.amount,
      currency: item.currency,
      status,
      statusDescription,
      ...(rrn ? { rrn } : {}),
    });
    const invoice = this.get(invoiceID);
    if (!invoice) return result('failed', 'INVOICE NOT FOUND');
    if (invoice.status !== 'pre-authorized') return result('failed', `INVOICE IS ${invoice.status.toUpperCase()}`);
    if (item.currency !== invoice.currency) return result('failed', 'CURRENCY DOES NOT MATCH THE INVOICE');
    const amount = typeof item.amount === 'string' && /^\d+$/.test(item.amount) ? Number(item.amount) : NaN;
    if (!(amount > 0) || amount > (invoice.authorizedAmount ?? 0)) {
      return result('failed', 'AMOUNT EXCEEDS THE PRE-AUTHORIZED AMOUNT');
    }
    invoice.status = 'completed';
    invoice.rrn = digits(30);
    return result('success', 'INVOICE COMPLETED SUCCESSFULLY', invoice.rrn);
  }

  /** Seed 004: activateInvoice activates invoices "that are only inactive"; a deactivated one stays deactivated. */
  private activate(invoiceID: string): string {
    const invoice = this.get(invoiceID);
    if (!invoice) return 'Invoice not found';
    if (invoice.status !== 'inactive') {
      return `Invoice cannot be activated: it is ${invoice.status}; only inactive invoices are activated`;
    }
    invoice.status = 'active';
    return 'Invoice is activated successfully';
  }

  private record(op: string, request: FastifyRequest, form: Item, invoice: Item): void {
    const details = Array.isArray(invoice.invoicesDetails) ? asItem(invoice.invoicesDetails[0]) : undefined;
    const invoiceID = typeof invoice.invoiceID === 'string' ? invoice.invoiceID : details?.invoiceID;
    // Bounded: `npm start` runs the sandbox for days, and tests look only at their own recent requests.
    if (this.log.length >= MAX_RECEIVED) this.log.splice(0, this.log.length - MAX_RECEIVED + 1);
    this.log.push({
      op,
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
      contentType: request.headers['content-type'],
      accept: request.headers.accept,
      formFields: Object.keys(form),
      invoiceFields: Object.keys(invoice),
      ...(details ? { detailFields: Object.keys(details) } : {}),
      ...(typeof invoiceID === 'string' ? { invoiceID } : {}),
    });
  }

  /** The docs allow it only before payment, pre-authorization or expiry. */
  private deactivate(invoiceID: string): string {
    const invoice = this.get(invoiceID);
    if (!invoice) return 'Invoice not found';
    if (invoice.status !== 'active' && invoice.status !== 'inactive') {
      return `Invoice cannot be deactivated: it is ${invoice.status}`;
    }
    invoice.status = 'deactivated';
    return 'Invoice is deactivated successfully';
  }

  private refresh(invoice: SandboxInvoice): void {
    if ((invoice.status === 'active' || invoice.status === 'inactive') && Date.now() >= invoice.expiresAt) {
      invoice.status = 'expired';
    }
  }

  private mustGet(invoiceID: string): SandboxInvoice {
    const invoice = this.get(invoiceID);
    if (!invoice) throw new Error(`no PayOne invoice ${invoiceID}`);
    return invoice;
  }

  private param(request: FastifyRequest): string {
    return (request.params as { id: string }).id;
  }

  private async action(reply: FastifyReply, run: () => unknown): Promise<FastifyReply> {
    try {
      return reply.code(200).send({ ok: true, result: run() ?? null });
    } catch (error) {
      return reply.code(409).send({ ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
