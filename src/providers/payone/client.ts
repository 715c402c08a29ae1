import type { z } from 'zod';
import type { Config } from '../../config';
import { FAILURE_TYPES, providerRefusal } from '../../errors';
import { classifyStatus, parseJson, sendRequest, type HttpResponse } from '../http';
import { sandboxBaseUrl } from '../sandbox/kit';
import {
  ActivationResponseSchema,
  CompleteResponseSchema,
  CreateResponseSchema,
  ErrorResponseSchema,
  InquireResponseSchema,
  type PayOneInquiry,
} from './schemas';

const PROVIDER = 'payone';

/** What the sandbox accepts and what the client uses when the environment sets none. Never valid at PayOne. */
export const SANDBOX_CREDENTIALS = {
  merchantId: 'sandboxMerchant',
  authToken: 'c2FuZGJveFBheU9uZVRva2Vu',
} as const;

export interface PayOneClientOptions {
  /** Host plus the SmartLink context root (UNCONFIRMED); `/rest/InvoicesService/<op>` is appended. */
  baseUrl: string;
  merchantId: string;
  authToken: string;
  timeoutMs: number;
}

export function payoneClientOptions(config: Config): PayOneClientOptions {
  const payone = config.providers.payone;
  return {
    baseUrl: payone.baseUrl ?? sandboxBaseUrl(config, 'payone'),
    merchantId: payone.merchantId ?? SANDBOX_CREDENTIALS.merchantId,
    authToken: payone.authToken ?? SANDBOX_CREDENTIALS.authToken,
    timeoutMs: config.providers.timeoutMs,
  };
}

export interface InvoiceDetails {
  invoiceID: string;
  amount: string;
  currency: string;
  expiryperiod: string;
  paymentDescription: string;
  customerEmailAddress?: string;
  language?: string;
}

/** PayOne SmartLink: one form field `invoice` holding JSON with the merchant's credentials and the operation's data. */
export class PayOneClient {
  constructor(private readonly options: PayOneClientOptions) {}

  async createPreAuthInvoice(details: InvoiceDetails) {
    const response = await this.post('createPreAuthInvoice', { invoicesDetails: [details] });
    return this.read(response, CreateResponseSchema, 'createPreAuthInvoice').invoicesDetails[0];
  }

  async activateInvoice(invoiceID: string): Promise<string> {
    const response = await this.post('activateInvoice', { invoiceID });
    return this.read(response, ActivationResponseSchema, 'activateInvoice').status;
  }

  async deactivateInvoice(invoiceID: string): Promise<string> {
    const response = await this.post('deactivateInvoice', { invoiceID });
    return this.read(response, ActivationResponseSchema, 'deactivateInvoice').status;
  }

  async completeInvoice(details: { invoiceID: string; amount: string; currency: string }) {
    const response = await this.post('completeInvoice', { invoicesDetails: [details] });
    const item = this.read(response, CompleteResponseSchema, 'completeInvoice').invoicesDetails[0];
    if (!item) throw providerRefusal(FAILURE_TYPES.invalidResponse, 'payone completeInvoice: no invoice in the answer');
    return { ...item, statusDescription: item.statusDescription ?? item.statusDescreption };
  }

  async inquireInvoice(invoiceID: string): Promise<PayOneInquiry> {
    const response = await this.post('inquireInvoice', { invoiceID });
    return this.read(response, InquireResponseSchema, 'inquireInvoice');
  }

  private post(op: string, fields: Record<string, unknown>): Promise<HttpResponse> {
    const invoice = JSON.stringify({
      merchantID: this.options.merchantId,
      authenticationToken: this.options.authToken,
      ...fields,
    });
    return sendRequest(PROVIDER, {
      method: 'POST',
      url: `${this.options.baseUrl.replace(/\/$/, '')}/rest/InvoicesService/${op}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ invoice }).toString(),
      timeoutMs: this.options.timeoutMs,
    });
  }

  private read<S extends z.ZodType>(response: HttpResponse, schema: S, what: string): z.output<S> {
    if (response.status < 200 || response.status >= 300) {
      throw classifyStatus(PROVIDER, response, `${what}: ${describeError(response.text)}`);
    }
    return parseJson(PROVIDER, schema, response.text, what);
  }
}

/** PayOne's words only: its answers echo authenticationToken, which must not reach a log or an error. */
function describeError(text: string): string {
  try {
    const parsed = ErrorResponseSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data.statusDescription ?? parsed.data.status ?? 'no description';
  } catch {
    // not JSON: fall through
  }
  return 'unreadable error body';
}
