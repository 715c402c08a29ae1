import { FAILURE_TYPES, providerRefusal } from '../../errors';
import {
  mayFollowEarlierAttempt,
  undoable,
  type CompensationInput,
  type ProviderAdapter,
  type StatusResult,
  type StepInput,
  type StepResult,
} from '../types';
import { derivedUuid, type AlfredClient, type AlfredSession } from './client';
import { kycLiteBody, mapInvoiceStatus, myInfoType, toAlfredAmount, toAlpha3, typeProcesor } from './mapping';
import type { AlfredUserTransaction } from './schemas';

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
} as const;

export function createAlfredAdapter(client: AlfredClient, options: AlfredAdapterOptions = {}): ProviderAdapter {
  const cryptoCurrency = options.cryptoCurrency ?? 'USDT';
  const kycDocuments = options.kycDocuments ?? defaultKycDocuments;

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

  function newInitialTransaction(input: StepInput): Promise<string> {
    const { invoice } = input;
    return client.myInfo({
      type: myInfoType(invoice.direction),
      // alfred wants 0 for a pay-in and the amount for a pay-out.
      balance: invoice.direction === 'pay_in' ? 0 : toAlfredAmount(invoice.amount, invoice.currency),
      currency: cryptoCurrency,
      user: invoice.customer.email,
      ...(options.chain ? { chain: options.chain } : {}),
    });
  }

  async function initialTransaction(input: StepInput): Promise<string> {
    return input.refs[ALFRED_REFS.initialTransaction] ?? (await newInitialTransaction(input));
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

  async function alfredInvoiceId(input: StepInput): Promise<string | undefined> {
    return input.refs[ALFRED_REFS.invoiceId] ?? (await findSubmitted(input))?.invoiceId;
  }

  return {
    name: 'alfred',

    async kyc(input) {
      const country = country3(input);
      // A fresh uuid per KYC attempt is harmless: nothing exists at alfred until submit-transaction uses one.
      const initialTx = await newInitialTransaction(input);
      const userSession = session(input, initialTx);
      const { kyc } = await client.login(userSession);
      let level = 'lite';
      if (!kyc) {
        const documents = kycDocuments(input, country);
        if (!documents) throw providerRefusal(FAILURE_TYPES.kycFailed, 'alfred asks for KYC full and no documents');
        await client.uploadKycDocument(userSession, documents);
        level = 'full';
      }
      return { refs: { [ALFRED_REFS.initialTransaction]: initialTx, alfredKycLevel: level } };
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
          compensation: 'cancel_invoice',
          note: 'already submitted; found in alfred transactions by user',
        };
      }
      const initialTx = await initialTransaction(input);
      const created = await client.submitTransaction(
        session(input, initialTx),
        {
          withdrawlPhone: input.invoice.customer.phone ?? '',
          businessInitTx: initialTx,
          BusinessTo: options.businessTo ?? '10',
          exchangeId: derivedUuid(input.idempotencyKey),
          amount: toAlfredAmount(input.invoice.amount, input.invoice.currency),
          typeProcesor: typeProcesor(input.invoice),
        },
        input.invoice.invoiceId,
      );
      return {
        refs: submittedRefs(created.transactionId, created.invoiceId),
        providerStatus: 'pending',
        compensation: 'cancel_invoice',
      };
    },

    async approveAtProvider(input) {
      const id = await alfredInvoiceId(input);
      if (!id) throw providerRefusal(FAILURE_TYPES.providerRejected, 'no alfred invoice to approve');
      await client.updateInvoice(id, 'approved');
      return { providerStatus: 'approved' };
    },

    async compensate(input: CompensationInput): Promise<StepResult> {
      if (input.action !== 'cancel_invoice') {
        throw providerRefusal(FAILURE_TYPES.notSupported, `alfred has no compensation ${input.action}`);
      }
      const id = await alfredInvoiceId(input);
      if (!id) return { note: 'nothing submitted at alfred' };
      await client.updateInvoice(id, 'cancel');
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
          ...(undoable(status) ? { compensation: 'cancel_invoice' } : {}),
        };
      }
      const invoice = await client.getInvoice(id);
      const status = mapInvoiceStatus(invoice, input.invoice.direction);
      return {
        status,
        ...(undoable(status) ? { compensation: 'cancel_invoice' } : {}),
        detail: `estatus_invoice=${invoice.estatus_invoice} method=${invoice.method?.status ?? 'none'}${invoice.expire_invoice ? ' expired' : ''}`,
      };
    },
  };
}
