import { FAILURE_TYPES, providerRefusal } from '../../errors';
import {
  mayFollowEarlierAttempt,
  undoable,
  type CompensationInput,
  type ProviderAdapter,
  type RecordsPage,
  type RecordsQuery,
  type StatusResult,
  type StepInput,
  type StepResult,
} from '../types';
import { decimalToMinor, minorToDecimal } from '../../domain/money';
import { AlfredQuoteRefused, type AlfredClient, type AlfredSession } from './client';
import { kycLiteBody, mapInvoiceStatus, myInfoType, reconciliationRecord, toAlpha3, typeProcesor } from './mapping';
import type { AlfredQuote, AlfredUserTransaction, QuoteRequest } from './schemas';

export interface AlfredAdapterOptions {
  /** my-info `currency`: the crypto side of the ramp (BTC/USDT/USDC). */
  cryptoCurrency?: string;
  /** my-info `chain`; the docs' example sends one, its necessity is UNCONFIRMED. Default: none sent. */
  chain?: string;
  /** submit-transaction `BusinessTo`. UNCONFIRMED meaning; default "10", the docs' example. */
  businessTo?: string;
  /**
   * The KYC-full upload body. UNCONFIRMED field names and encoding; default guess: JSON with the country, a document
   * type and the customer's national id number. Return undefined to skip the upload (the step then refuses).
   */
  kycDocuments?: (input: StepInput, country3: string) => Record<string, unknown> | undefined;
  /** The quote's `chain` (alfred's newer docs: MATIC, XLM, ETH ...). Default: none sent. */
  quoteChain?: string;
  /** A quote this close to its expiration is fetched again rather than sent to submit. */
  quoteMarginMs?: number;
  now?: () => number;
}

const defaultKycDocuments: NonNullable<AlfredAdapterOptions['kycDocuments']> = (input, country3) => ({
  country: country3,
  documentType: 'DNI',
  documentNumber: input.invoice.bank?.nationalId ?? '',
  email: input.invoice.customer.email,
});

/** Refs the later steps and the webhook receiver rely on. */
export const ALFRED_REFS = {
  initialTransaction: 'alfredInitialTransaction',
  bankId: 'alfredBankId',
  paymentMethodId: 'alfredPaymentMethodId',
  transactionId: 'alfredTransactionId',
  /** The gateway maps alfred's webhooks (which carry only this id) back to our invoice through it. */
  invoiceId: 'alfredInvoiceId',
  /** The quote submit's `exchangeId` names, and what it promises: shown to the customer with the invoice. */
  quoteId: 'alfredQuoteId',
  quoteExpiresAt: 'alfredQuoteExpiresAt',
  quoteFiatAmount: 'alfredQuoteFiatAmount',
  quoteFiatCurrency: 'alfredQuoteFiatCurrency',
  quoteCryptoAmount: 'alfredQuoteCryptoAmount',
  quoteCryptoCurrency: 'alfredQuoteCryptoCurrency',
  quoteRate: 'alfredQuoteRate',
  quoteFees: 'alfredQuoteFees',
} as const;

/** The undo a pay-out's submit registers: Approval Invoice with `cancel`. */
export const ALFRED_CANCEL = 'cancel_invoice';
/**
 * What a pay-in's submit registers instead: alfred documents no operation that undoes a pay-in (Approval Invoice is
 * pay-out only; alfred approves pay-ins itself), so its undo does nothing and the invoice records that.
 */
export const ALFRED_PAY_IN_NO_UNDO = 'none_documented_for_pay_in';

/** The undo an alfred object of this direction registers. */
function undoFor(direction: StepInput['invoice']['direction']): string {
  return direction === 'pay_out' ? ALFRED_CANCEL : ALFRED_PAY_IN_NO_UNDO;
}

/** The fiat and crypto sides of a quote: a pay-in changes fiat into crypto, a pay-out crypto into fiat. */
function sides(quote: AlfredQuote, direction: StepInput['invoice']['direction']) {
  return direction === 'pay_in'
    ? {
        fiat: { amount: quote.fromAmount, currency: quote.fromCurrency },
        crypto: { amount: quote.toAmount, currency: quote.toCurrency },
      }
    : {
        fiat: { amount: quote.toAmount, currency: quote.toCurrency },
        crypto: { amount: quote.fromAmount, currency: quote.fromCurrency },
      };
}

/** A quote's refs, as alfred wrote its amounts: the customer sees what alfred promised, not our rounding of it. */
function quoteRefs(quote: AlfredQuote, direction: StepInput['invoice']['direction']): Record<string, string> {
  const { fiat, crypto } = sides(quote, direction);
  return {
    [ALFRED_REFS.quoteId]: quote.quoteId,
    [ALFRED_REFS.quoteExpiresAt]: new Date(Date.parse(quote.expiration)).toISOString(),
    [ALFRED_REFS.quoteFiatAmount]: fiat.amount,
    [ALFRED_REFS.quoteFiatCurrency]: fiat.currency,
    [ALFRED_REFS.quoteCryptoAmount]: crypto.amount,
    [ALFRED_REFS.quoteCryptoCurrency]: crypto.currency,
    ...(quote.rate !== undefined ? { [ALFRED_REFS.quoteRate]: quote.rate } : {}),
    ...(quote.fees.length
      ? { [ALFRED_REFS.quoteFees]: quote.fees.map((fee) => `${fee.type} ${fee.amount} ${fee.currency}`).join('; ') }
      : {}),
  };
}

/** The quote a step can still use, from refs: what submit needs of it. */
interface UsableQuote {
  quoteId: string;
  fiatAmount: string;
  cryptoAmount: string;
  cryptoCurrency: string;
}

export function createAlfredAdapter(client: AlfredClient, options: AlfredAdapterOptions = {}): ProviderAdapter {
  const cryptoCurrency = options.cryptoCurrency ?? 'USDT';
  const kycDocuments = options.kycDocuments ?? defaultKycDocuments;
  const now = options.now ?? Date.now;
  const quoteMarginMs = options.quoteMarginMs ?? 1_000;

  /**
   * Consult Quote for the invoice. The invoice fixes the fiat side (what the customer pays in, or receives); alfred
   * prices the crypto side. A quote for another amount or currency than the invoice's is refused, not sent on.
   */
  async function fetchQuote(input: StepInput): Promise<AlfredQuote> {
    const { invoice } = input;
    const fiatAmount = minorToDecimal(invoice.amount, invoice.currency);
    const request: QuoteRequest =
      invoice.direction === 'pay_in'
        ? { fromCurrency: invoice.currency, toCurrency: cryptoCurrency, fromAmount: fiatAmount }
        : { fromCurrency: cryptoCurrency, toCurrency: invoice.currency, toAmount: fiatAmount };
    const quote = await client.quote({
      ...request,
      paymentMethodType: typeProcesor(invoice),
      ...(options.quoteChain ? { chain: options.quoteChain } : {}),
    });
    const { fiat, crypto } = sides(quote, invoice.direction);
    let quotedMinor: number | undefined;
    try {
      quotedMinor = fiat.currency === invoice.currency ? decimalToMinor(fiat.amount, invoice.currency) : undefined;
    } catch {
      quotedMinor = undefined;
    }
    if (quotedMinor !== invoice.amount || crypto.currency !== cryptoCurrency) {
      throw providerRefusal(
        FAILURE_TYPES.invalidResponse,
        `alfred quoted ${fiat.amount} ${fiat.currency} / ${crypto.amount} ${crypto.currency} for ${fiatAmount} ${invoice.currency}`,
      );
    }
    return quote;
  }

  /** The quote in refs, unless it is missing or about to expire. */
  function usableQuote(refs: Record<string, string>): UsableQuote | undefined {
    const quoteId = refs[ALFRED_REFS.quoteId];
    const expiresAt = Date.parse(refs[ALFRED_REFS.quoteExpiresAt] ?? '');
    const fiatAmount = refs[ALFRED_REFS.quoteFiatAmount];
    const cryptoAmount = refs[ALFRED_REFS.quoteCryptoAmount];
    const quoteCrypto = refs[ALFRED_REFS.quoteCryptoCurrency];
    if (!quoteId || !fiatAmount || !cryptoAmount || !quoteCrypto || Number.isNaN(expiresAt)) return undefined;
    if (expiresAt - quoteMarginMs <= now()) return undefined;
    return { quoteId, fiatAmount, cryptoAmount, cryptoCurrency: quoteCrypto };
  }

  function usable(quote: AlfredQuote, direction: StepInput['invoice']['direction']): UsableQuote {
    const { fiat, crypto } = sides(quote, direction);
    return {
      quoteId: quote.quoteId,
      fiatAmount: fiat.amount,
      cryptoAmount: crypto.amount,
      cryptoCurrency: crypto.currency,
    };
  }

  /** A pay-out's my-info balance is the crypto the quote prices the payout at; a pay-in's is 0. */
  function myInfoFor(input: StepInput, quote: UsableQuote): Promise<string> {
    const { invoice } = input;
    return client.myInfo({
      type: myInfoType(invoice.direction),
      balance: invoice.direction === 'pay_in' ? 0 : Number(quote.cryptoAmount),
      currency: quote.cryptoCurrency,
      user: invoice.customer.email,
      ...(options.chain ? { chain: options.chain } : {}),
    });
  }

  /**
   * A fresh quote for submit, and the initial transaction that goes with it: a pay-out's was created with the old
   * quote's crypto amount, so a quote that prices it differently needs a new one.
   */
  async function requote(input: StepInput, initialTx: string | undefined) {
    const quote = await fetchQuote(input);
    const next = usable(quote, input.invoice.direction);
    const oldCrypto = input.refs[ALFRED_REFS.quoteCryptoAmount];
    const sameBalance = input.invoice.direction === 'pay_in' || Number(oldCrypto) === Number(next.cryptoAmount);
    const tx = initialTx && sameBalance ? initialTx : await myInfoFor(input, next);
    return {
      quote: next,
      initialTx: tx,
      refs: { ...quoteRefs(quote, input.invoice.direction), [ALFRED_REFS.initialTransaction]: tx },
    };
  }

  function country3(input: StepInput): string {
    const code = toAlpha3(input.invoice.customer.country);
    if (!code) {
      throw providerRefusal(
        FAILURE_TYPES.kycFailed,
        `alfred needs an ISO-3 country; no mapping for ${input.invoice.customer.country}`,
      );
    }
    return code;
  }

  /** An initial transaction for a session that lost its own: priced by the quote in refs, or a fresh one. */
  async function initialTransaction(input: StepInput): Promise<string> {
    const known = input.refs[ALFRED_REFS.initialTransaction];
    if (known) return known;
    const quote = usableQuote(input.refs) ?? usable(await fetchQuote(input), input.invoice.direction);
    return myInfoFor(input, quote);
  }

  /** The session signs in again from the invoice whenever the 2-minute token has lapsed. */
  function session(input: StepInput, initialTx?: string): AlfredSession {
    return {
      key: input.invoice.customer.id,
      login: async () => kycLiteBody(input.invoice, initialTx ?? (await initialTransaction(input)), country3(input)),
    };
  }

  /**
   * A submit whose answer was lost must not create a second transaction: alfred's per-user report shows what exists,
   * matched by our reference (where alfred keeps it) or by the initial-transaction uuid the submit used.
   */
  async function findSubmitted(input: StepInput): Promise<AlfredUserTransaction | undefined> {
    const rows = await client.transactionsByUser(input.invoice.customer.email);
    const initialTx = input.refs[ALFRED_REFS.initialTransaction];
    return rows.find(
      (row) => row.reference === input.invoice.invoiceId || (initialTx !== undefined && row.transaction === initialTx),
    );
  }

  function submittedRefs(transactionId: string, invoiceId: string): Record<string, string> {
    return { [ALFRED_REFS.transactionId]: transactionId, [ALFRED_REFS.invoiceId]: invoiceId };
  }

  /**
   * Approval Invoice's `invoicehash`, read from the invoice just before the call and never kept: it authenticates the
   * approval, so it is a secret, and refs are not. UNCONFIRMED where alfred hands it out; undefined sends none.
   */
  async function invoiceHash(alfredInvoiceId: string): Promise<string | undefined> {
    return (await client.getInvoice(alfredInvoiceId)).invoicehash;
  }

  async function alfredInvoiceId(input: StepInput): Promise<string | undefined> {
    return input.refs[ALFRED_REFS.invoiceId] ?? (await findSubmitted(input))?.invoiceId;
  }

  return {
    name: 'alfred',

    async kyc(input) {
      const country = country3(input);
      // The quote comes first: the customer sees its amounts from here on, and a pay-out's my-info states its crypto.
      const quote = await fetchQuote(input);
      // A fresh uuid per KYC attempt is harmless: nothing exists at alfred until submit-transaction uses one.
      const initialTx = await myInfoFor(input, usable(quote, input.invoice.direction));
      const userSession = session(input, initialTx);
      const { kyc } = await client.login(userSession);
      let level = 'lite';
      if (!kyc) {
        const documents = kycDocuments(input, country);
        if (!documents) throw providerRefusal(FAILURE_TYPES.kycFailed, 'alfred asks for KYC full and no documents');
        await client.uploadKycDocument(userSession, documents);
        level = 'full';
      }
      return {
        refs: {
          ...quoteRefs(quote, input.invoice.direction),
          [ALFRED_REFS.initialTransaction]: initialTx,
          alfredKycLevel: level,
        },
      };
    },

    async paymentMethod(input) {
      const processor = typeProcesor(input.invoice);
      // The body is UNCONFIRMED (the docs' table did not survive); the processor and country are what it selects on.
      const data = await client.paymentMethod(session(input), {
        type: myInfoType(input.invoice.direction),
        typeProcesor: processor,
        country: country3(input),
      });
      const method = data.paymentsMethods[processor][0];
      return method
        ? { refs: { [ALFRED_REFS.paymentMethodId]: method.id } }
        : { note: `alfred offers no ${processor}` };
    },

    async bank(input) {
      const bank = input.invoice.bank;
      if (!bank) {
        if (input.invoice.direction === 'pay_out') {
          throw providerRefusal(FAILURE_TYPES.providerRejected, 'an alfred pay-out needs the recipient bank account');
        }
        return { note: 'no origin bank account given; alfred will take the one the customer pays from' };
      }
      const existing = input.refs[ALFRED_REFS.bankId];
      const { id } = await client.updateBank(session(input), {
        bankName: bank.bankName,
        bankNumber: bank.accountNumber,
        bankAccountOwner: bank.accountOwner,
        countryCode: toAlpha3(bank.country) ?? bank.country,
        DNI: bank.nationalId ?? '',
        // Sending the id we were given turns a retry into an update, not a second bank.
        ...(existing ? { id: existing } : {}),
      });
      return { refs: { [ALFRED_REFS.bankId]: id } };
    },

    async submit(input) {
      // Only a retry can follow a submit that reached alfred; the first try skips the per-user report, which lists every
      // transaction the customer ever made.
      const found = mayFollowEarlierAttempt(input) ? await findSubmitted(input) : undefined;
      if (found) {
        return {
          refs: submittedRefs(found.id, found.invoiceId),
          providerStatus: 'pending',
          compensation: undoFor(input.invoice.direction),
          note: 'already submitted; found in alfred transactions by user',
        };
      }
      // The quote from KYC is used while it lives; one that expired (or that alfred refuses) is fetched again.
      let refs: Record<string, string> = {};
      let quote = usableQuote(input.refs);
      let initialTx = input.refs[ALFRED_REFS.initialTransaction];
      if (!quote || !initialTx) ({ quote, initialTx, refs } = await requote(input, initialTx));
      const submit = (ready: UsableQuote, tx: string) =>
        client.submitTransaction(
          session(input, tx),
          {
            withdrawlPhone: input.invoice.customer.phone ?? '',
            businessInitTx: tx,
            BusinessTo: options.businessTo ?? '10',
            exchangeId: ready.quoteId,
            // The fiat amount as the quote writes it; its currency is the quote's, which exchangeId names.
            amount: Number(ready.fiatAmount),
            typeProcesor: typeProcesor(input.invoice),
          },
          input.invoice.invoiceId,
        );
      let created: Awaited<ReturnType<typeof submit>>;
      try {
        created = await submit(quote, initialTx);
      } catch (error) {
        if (!(error instanceof AlfredQuoteRefused)) throw error;
        ({ quote, initialTx, refs } = await requote(input, initialTx));
        created = await submit(quote, initialTx);
      }
      return {
        refs: { ...refs, ...submittedRefs(created.transactionId, created.invoiceId) },
        providerStatus: 'pending',
        compensation: undoFor(input.invoice.direction),
        ...(input.invoice.direction === 'pay_in'
          ? { note: 'alfred documents no undo of a pay-in: a cancellation will leave its invoice to alfred' }
          : {}),
      };
    },

    async approveAtProvider(input) {
      const id = await alfredInvoiceId(input);
      if (!id) throw providerRefusal(FAILURE_TYPES.providerRejected, 'no alfred invoice to approve');
      await client.updateInvoice(id, 'approved', await invoiceHash(id));
      return { providerStatus: 'approved' };
    },

    async compensate(input: CompensationInput): Promise<StepResult> {
      if (input.action !== ALFRED_CANCEL && input.action !== ALFRED_PAY_IN_NO_UNDO) {
        throw providerRefusal(FAILURE_TYPES.notSupported, `alfred has no compensation ${input.action}`);
      }
      // Invoices started before this release registered cancel_invoice for pay-ins too: the direction decides.
      if (input.invoice.direction === 'pay_in') {
        throw providerRefusal(
          FAILURE_TYPES.notUndone,
          'nothing could be undone: alfred documents no cancellation of a pay-in (Approval Invoice is pay-out only; ' +
            'alfred approves pay-ins itself), so its invoice stays with alfred until it expires',
        );
      }
      const id = await alfredInvoiceId(input);
      if (!id) return { note: 'nothing submitted at alfred' };
      await client.updateInvoice(id, 'cancel', await invoiceHash(id));
      return { providerStatus: 'cancelled' };
    },

    async fetchStatus(input): Promise<StatusResult> {
      const id = input.refs[ALFRED_REFS.invoiceId];
      if (!id) {
        const found = await findSubmitted(input);
        if (!found) throw providerRefusal(FAILURE_TYPES.notFound, 'alfred has no transaction for this invoice');
        const invoice = await client.getInvoice(found.invoiceId);
        const status = mapInvoiceStatus(invoice, input.invoice.direction);
        return {
          status,
          refs: submittedRefs(found.id, found.invoiceId),
          ...(undoable(status) ? { compensation: undoFor(input.invoice.direction) } : {}),
        };
      }
      const invoice = await client.getInvoice(id);
      const status = mapInvoiceStatus(invoice, input.invoice.direction);
      return {
        status,
        ...(undoable(status) ? { compensation: undoFor(input.invoice.direction) } : {}),
        detail: `estatus_invoice=${invoice.estatus_invoice} method=${invoice.method?.status ?? 'none'}${invoice.expire_invoice ? ' expired' : ''}`,
      };
    },

    async listRecords(query: RecordsQuery): Promise<RecordsPage> {
      // Consult All Invoices documents no date filter or paging (UNCONFIRMED): one call, filtered here by start_time.
      const since = Date.parse(query.since);
      const until = Date.parse(query.until);
      const records = (await client.allInvoices()).map(reconciliationRecord).filter((record) => {
        const created = record.createdAt === undefined ? Number.NaN : Date.parse(record.createdAt);
        return Number.isNaN(created) || (created >= since && created <= until);
      });
      return { coverage: 'list', refKey: ALFRED_REFS.invoiceId, records };
    },
  };
}
