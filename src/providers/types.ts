import type { Config } from '../config';
import type { Direction, ProviderName, ProviderStatus } from '../domain/constants';
import type { Logger } from '../logger';
import type { ProviderSandbox, SandboxContext } from './sandbox/kit';
import type { InvoiceRequest } from '../domain/invoice';
import type { ProviderRecords } from '../domain/reconciliation';
import type { CallbackVerdict, ForceCompleteInput, InvoicePlan, ProviderEvent } from '../workflows/definitions';

/** What every provider step receives: the invoice, what earlier steps learned, and a stable idempotency reference. */
export interface StepInput {
  invoice: InvoiceRequest;
  /** References the provider gave us in earlier steps (transaction ids, invoice ids). Never secrets. */
  refs: Record<string, string>;
  /** Derived from the invoice and the step, identical on every retry: the provider sees one request, not many. */
  idempotencyKey: string;
  /**
   * The activity attempt (1 on the first try). Only a later attempt can follow a call that reached the provider, so a
   * provider without idempotency of its own looks for an earlier creation only then, sparing the first try a lookup.
   */
  attempt?: number;
}

/** A provider object in this status is still open, so the undo its creation registered can still take effect. */
export function undoable(status: ProviderStatus): boolean {
  return status === 'pending' || status === 'approval_requested' || status === 'authorized';
}

/** Whether an earlier attempt of this step may have reached the provider; unknown counts as yes. */
export function mayFollowEarlierAttempt(input: StepInput): boolean {
  return (input.attempt ?? 2) > 1;
}

export interface StepResult {
  /** References to keep for later steps and for the operator. */
  refs?: Record<string, string>;
  providerStatus?: ProviderStatus;
  /** Set when this step created something at the provider that a cancellation must undo (an action name). */
  compensation?: string;
  note?: string;
}

export interface CompensationInput extends StepInput {
  action: string;
}

export interface StatusResult {
  status: ProviderStatus;
  refs?: Record<string, string>;
  detail?: string;
  /** The undo of the object found, as the submit that created it would have named it; absent when there is none. */
  compensation?: string;
  /**
   * The provider's own status word when its adapter cannot read it (a word missing from its status table). `status`
   * then says no more than 'pending': no news, so the workflow applies nothing, keeps polling and shows this word.
   */
  unrecognized?: string;
  /** The money the provider's object is for, in minor units, when its API says: checked against the invoice's. */
  money?: { amount: number; currency: string };
}

/** One page of a provider's report for a reconciliation window. */
export interface RecordsQuery {
  /** ISO 8601; objects created in [since, until] are listed. */
  since: string;
  until: string;
  /** Our references of the window, for a provider whose reports are looked up one reference at a time. */
  references: readonly string[];
  /** Where the previous page ended; absent for the first. */
  cursor?: string;
}

export interface RecordsPage extends ProviderRecords {
  /** Absent on the last page. */
  nextCursor?: string;
}

/** A completion by hand: what the operator named, without who they are (the workflow keeps that). */
export interface ForceCompleteStepInput extends StepInput {
  completion: Pick<ForceCompleteInput, 'payCcy' | 'depositId' | 'ledgerId'>;
}

export interface ForceCompleteResult extends StepResult {
  /** The provider marks the completion as forced; false when the customer's own payment had completed it first. */
  forced: boolean;
}

/**
 * One provider behind the provider-neutral steps. Steps the provider lacks are absent and its plan says so; the
 * workflow never calls them.
 */
export interface ProviderAdapter {
  readonly name: ProviderName;
  kyc?(input: StepInput): Promise<StepResult>;
  paymentMethod?(input: StepInput): Promise<StepResult>;
  bank?(input: StepInput): Promise<StepResult>;
  submit(input: StepInput): Promise<StepResult>;
  approveAtProvider?(input: StepInput): Promise<StepResult>;
  complete?(input: StepInput): Promise<StepResult>;
  compensate(input: CompensationInput): Promise<StepResult>;
  fetchStatus(input: StepInput): Promise<StatusResult>;
  /** An operator's completion of an invoice still waiting for its payment (Bitfinex's Complete Invoice). */
  forceComplete?(input: ForceCompleteStepInput): Promise<ForceCompleteResult>;
  /**
   * The provider's report operations, one page per call (so a rate-limited provider's queue counts each request):
   * what became of its objects, for reconciliation. Absent: the provider offers no report to reconcile against.
   */
  listRecords?(query: RecordsQuery): Promise<RecordsPage>;
}

export type ProviderRegistry = Readonly<Record<ProviderName, ProviderAdapter>>;

/** An incoming webhook, as the gateway hands it to a provider's verifier: raw bytes for signatures, parsed JSON. */
export interface IncomingWebhook {
  rawBody: string;
  body: unknown;
  headers: Record<string, string | undefined>;
}

/** How a verified webhook names its invoice: our id directly, or the provider's reference we stored on it. */
export type InvoiceLookup = { invoiceId: string } | { providerRef: { key: string; value: string } };

export type WebhookVerdict =
  | {
      ok: true;
      event: ProviderEvent;
      invoice: InvoiceLookup;
      /**
       * The provider's own proof of this delivery (alfred's signature), which its retries repeat byte for byte. Once
       * the event is delivered the gateway remembers it with the event id, and answers a repeat 2xx without
       * delivering it again.
       */
      replayKey?: string;
    }
  /** Genuine but about no invoice (a provider's test ping, a KYC notice): acknowledged so it is not retried. */
  | { ok: 'ignored'; reason: string }
  /**
   * 400: malformed; 401: bad signature, stale or replayed; 422: the provider's API contradicts it or cannot confirm it.
   * `reason` is answered to the caller, so it is one stable phrase per kind of refusal: a forger learns nothing about
   * which of our checks failed or whether the invoice exists. `logReason` is the verifier's own words, logged only.
   */
  | { ok: false; status: 400 | 401 | 422; reason: string; logReason?: string };

/**
 * One webhook route of a provider, mounted by the gateway at `/webhooks/<provider>[/<token>][/<path>]`.
 * `signal`: delivered as the providerEvent signal, answered 2xx once Temporal holds it.
 * `callback`: delivered as the providerCallback update; the provider waits for our verdict in the answer.
 * `look`: the providerLook signal, answered 2xx once Temporal holds it; the event is only a hint and never delivered.
 */
export interface WebhookRoute {
  path: string;
  /** `look`: the webhook proves nothing; the invoice is signalled to fetch its own object from the provider. */
  delivery: 'signal' | 'callback' | 'look';
  /**
   * For a provider that signs nothing: the secrets one of which must be the URL segment before `path`
   * (`/webhooks/<provider>/<token><path>`); the first is the one registered with the provider. The gateway checks it
   * before reading the body and refuses anything else 401, the bare path without a token included.
   */
  urlTokens?(config: Config): readonly string[];
  /** `now` is the gateway's clock, which signatures' ages are measured by (a test's fake clock); else Date.now. */
  verify(
    webhook: IncomingWebhook,
    deps: {
      adapter: ProviderAdapter;
      config: Config;
      now?: () => number;
      /**
       * The invoice (its provider reference) that holds `key: value` among its provider refs, searched among this
       * route's provider's invoices only: for a webhook that names only an id we stored (Xprizo's null reference).
       */
      findInvoiceByProviderRef?: (key: string, value: string) => Promise<string | undefined>;
    },
  ): Promise<WebhookVerdict>;
  /** The answer the provider expects, from our verdict (callbacks) or for a delivered signal. */
  answer(verdict: CallbackVerdict['verdict'] | 'delivered'): { status: number; body: unknown };
}

export interface ProviderDeps {
  config: Config;
  logger: Logger;
}

/** A request field a provider needs and the request lacks, named by its path in the request (`customer.phone`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * What a provider will refuse in a request the shared schema accepts, found before any workflow starts: a refusal at
 * the provider's KYC or submit step would otherwise come after we answered 201. Pure, so the client can call it.
 */
export type ProviderRequirements = (request: InvoiceRequest) => readonly FieldIssue[];

/**
 * A provider's pure facts: what starting an invoice needs to know. Kept apart from the adapter, sandbox and webhooks so
 * the client library loads none of those (nor their HTTP clients and SDKs).
 */
export interface ProviderFacts {
  readonly name: ProviderName;
  readonly directions: readonly Direction[];
  /** Required, so a new provider must say what it needs (even "nothing beyond the shared schema"). */
  readonly requirements: ProviderRequirements;
  /** The steps the workflow runs for this provider and direction. Pure: the client calls it when starting. */
  plan(direction: Direction): InvoicePlan;
  /**
   * The request as this provider can honour it, applied by the client before the workflow starts (a limit of the
   * provider's, such as Xprizo voiding a held pay-out after 24 h); `notes` say what changed and are shown in the
   * invoice's details. Pure.
   */
  adjust?(request: InvoiceRequest): AdjustedRequest;
}

/** What the registry holds for a provider: its facts and how to build its adapter, sandbox and webhook routes. */
export interface ProviderDefinition extends ProviderFacts {
  create(deps: ProviderDeps): ProviderAdapter;
  /** A stand-in for the provider's API that behaves as its docs say, for `npm start` and the tests. */
  sandbox(context: SandboxContext): ProviderSandbox;
  /** The provider's webhooks; PayOne documents none. */
  webhooks?: readonly WebhookRoute[];
  /**
   * Run once when a worker starts, for a provider this deployment serves (Xprizo registers its webhook URLs). Must not
   * throw for a provider that is down: the worker runs the other providers too.
   */
  onWorkerStart?(deps: WorkerStartDeps): Promise<void>;
}

export interface WorkerStartDeps extends ProviderDeps {
  /** The gateway as providers reach it: GATEWAY_PUBLIC_URL, or the dev stack's local address; unset: none. */
  gatewayUrl?: string;
}

export interface AdjustedRequest {
  request: InvoiceRequest;
  notes: readonly string[];
}
