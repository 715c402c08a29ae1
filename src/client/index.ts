import { createHash } from 'node:crypto';
import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { defaultPayloadConverter, type UpdateDefinition } from '@temporalio/common';
import { DEFAULT_TENANT_POLICY, type TenantPolicy } from '../access/principals';
import type { InvoiceStatus, ProviderName } from '../domain/constants';
import {
  InvoiceRequestSchema,
  type Decision,
  type ForceCompletion,
  type InvoiceRequest,
  type Resolution,
} from '../domain/invoice';
import { UNTENANTED } from '../domain/events';
import { formatMoney } from '../domain/money';
import { PROVIDER_FACTS, unmetRequirements } from '../providers/facts';
import type { invoiceWorkflow } from '../workflows/invoice-workflow';
import {
  approveUpdate,
  cancelUpdate,
  DEFAULT_INVOICE_TIMING,
  FORCE_COMPLETE_FAILED,
  forceCompleteUpdate,
  INVALID_STATE,
  invoiceIdOf,
  invoiceWorkflowId,
  INVOICE_WORKFLOW_TYPE,
  NOT_ALLOWED,
  providerReferenceValue,
  rejectUpdate,
  resolveUpdate,
  searchAttributes,
  statusQuery,
  TASK_QUEUES,
  tenantInvoiceKey,
  type InvoiceAccess,
  type InvoiceState,
  type InvoiceTiming,
} from '../workflows/definitions';
import {
  ForceCompleteFailedError,
  InvalidInvoiceRequestError,
  InvoiceConflictError,
  InvoiceNotFoundError,
  InvoiceNotReadyError,
  InvoiceStateError,
  NotAllowedError,
} from './errors';

export * from './errors';
export { invoiceDataConverter, parsePayloadEncryptionKeys, PayloadCodecConfigError } from '../temporal/codec';
export type { PayloadEncryptionKey } from '../temporal/encryption-keys';
export { DEFAULT_INVOICE_TIMING, type InvoiceState, type InvoiceTiming } from '../workflows/definitions';
export {
  FINAL_STATUSES,
  INVOICE_STATUSES,
  isFinalStatus,
  PROVIDER_NAMES,
  type FinalStatus,
  type InvoiceStatus,
  type ProviderName,
} from '../domain/constants';
export type { Decision, ForceCompletion, InvoiceRequest, InvoiceRequestInput, Resolution } from '../domain/invoice';
// Receivers of our outgoing webhooks verify them with the very module the worker signs them with.
export {
  DEFAULT_TOLERANCE_SECONDS,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  verifyWebhook,
  WebhookSignatureError,
  type WebhookEvent,
  type WebhookSignatureFailure,
} from '../webhooks/signature';

export interface InvoiceClientOptions {
  client: Client;
  /** How patiently a quiet provider is polled (production's DEFAULT_INVOICE_TIMING when unset). */
  timing?: InvoiceTiming;
  /**
   * The tenant whose invoices this client sees. Its invoice ids are the tenant's own; the workflow id and the reference
   * providers see are `<tenant>_<invoiceId>`, so two tenants may use the same id. Without a tenant the client works on
   * those keys directly: the gateway's webhooks (a provider names the key) and an operator's single-tenant tools.
   */
  tenant?: string;
  /** Who starts invoices through this client: the creator, who may never approve them. */
  principal?: string;
  /** The tenant's approval policy (default: pay-outs need one approval). */
  policyFor?: (tenant: string) => TenantPolicy;
  /**
   * The invoices this client starts record their events in the store's event log (`GET /v1/events`). Only for a
   * deployment whose workers have the store: an invoice that cannot record its events waits until it can.
   */
  recordEvents?: boolean;
}

/** Who decides which approvals an invoice needs, fixed when it starts. */
export function approvalsFor(
  request: InvoiceRequest,
  policy: TenantPolicy,
): { required: boolean; approvalsRequired: number } {
  if (request.direction !== 'pay_out') return { required: request.approval.required, approvalsRequired: 1 };
  const threshold = policy.twoApproversFrom[request.currency];
  const required = policy.payoutApproval === 'required' || request.approval.required;
  return { required, approvalsRequired: required && threshold !== undefined && request.amount >= threshold ? 2 : 1 };
}

export interface StartedInvoice {
  invoiceId: string;
  workflowId: string;
  /** False when an invoice with this id already existed with the same request: nothing new was started. */
  created: boolean;
  request: InvoiceRequest;
}

export interface InvoiceSummary {
  invoiceId: string;
  workflowId: string;
  status?: InvoiceStatus;
  provider?: ProviderName;
  customerId?: string;
  amount?: number;
  currency?: string;
  startedAt?: string;
}

export interface ListFilter {
  status?: InvoiceStatus;
  provider?: ProviderName;
  customerId?: string;
  pageSize?: number;
  nextPageToken?: string;
}

const REQUEST_HASH_MEMO = 'requestHash';

/** A string literal for a visibility query. */
function quote(value: string): string {
  return `'${value.replace(/'/g, "\\'")}'`;
}
/** Provider references remembered by one client (a few MiB at most). */
const REFERENCE_CACHE_SIZE = 50_000;

/** A stable fingerprint of a request, so a repeated start can tell "the same invoice" from "the same id reused". */
export function requestFingerprint(request: InvoiceRequest): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(
            Object.entries(value)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, v]) => [k, canonical(v)]),
          )
        : value;
  return createHash('sha256')
    .update(JSON.stringify(canonical(request)))
    .digest('hex');
}

export function parseInvoiceRequest(input: unknown): InvoiceRequest {
  const parsed = InvoiceRequestSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidInvoiceRequestError(
      parsed.error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message })),
    );
  }
  const request = parsed.data;
  // Here, not in the gateway or payorch: both start invoices through this client, so all three refuse alike.
  const unmet = unmetRequirements(request);
  if (unmet.length) throw new InvalidInvoiceRequestError([...unmet]);
  return request;
}

function decisionError(error: unknown): unknown {
  if (error instanceof WorkflowUpdateFailedError) {
    const message = error.cause?.message ?? error.message;
    if (message.startsWith(INVALID_STATE)) return new InvoiceStateError(message);
    if (message.startsWith(NOT_ALLOWED)) return new NotAllowedError(message);
    if (message.startsWith(FORCE_COMPLETE_FAILED)) return new ForceCompleteFailedError(message);
  }
  return error;
}

/**
 * A just-started invoice is asked again for this long before the caller is told to retry: its first task is usually a
 * few hundred milliseconds away, and a read right after create is what every service does.
 */
const NOT_READY_WAIT_MS = 1_000;
const NOT_READY_RETRY_MS = 100;
const GRPC_FAILED_PRECONDITION = 9;

/** Temporal's WorkflowNotReady: a query sent before the workflow's first task completed. */
function isWorkflowNotReady(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    if (isGrpcServiceError(current)) return Number(current.code) === GRPC_FAILED_PRECONDITION;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

/** The typed door to invoices for TypeScript services; the HTTP gateway uses it too. */
export function createInvoiceClient(options: InvoiceClientOptions) {
  const { client, tenant, principal } = options;
  const timing = options.timing ?? DEFAULT_INVOICE_TIMING;
  const invoiceByReference = new Map<string, string>();
  const keyOf = (invoiceId: string): string => tenantInvoiceKey(tenant, invoiceId);
  const localId = (key: string): string =>
    tenant && key.startsWith(`${tenant}_`) ? key.slice(tenant.length + 1) : key;
  /** The state as this tenant names it. */
  const present = (state: InvoiceState): InvoiceState =>
    tenant ? { ...state, invoiceId: localId(state.invoiceId), reference: state.invoiceId } : state;
  const handle = (invoiceId: string): WorkflowHandle<typeof invoiceWorkflow> =>
    client.workflow.getHandle<typeof invoiceWorkflow>(invoiceWorkflowId(keyOf(invoiceId)));

  async function notFoundAware<T>(invoiceId: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new InvoiceNotFoundError(invoiceId);
      throw error;
    }
  }

  async function startInvoice(input: unknown, by: { createdBy?: string } = {}): Promise<StartedInvoice> {
    const request = parseInvoiceRequest(input);
    const workflowId = invoiceWorkflowId(keyOf(request.invoiceId));
    const fingerprint = requestFingerprint(request);
    const createdBy = by.createdBy ?? principal;
    // The provider's limits apply to what starts, not to the fingerprint: the caller's repeat of its request matches.
    const adjusted = PROVIDER_FACTS[request.provider].adjust?.(request) ?? { request, notes: [] };
    let started: InvoiceRequest = adjusted.request;
    let access: InvoiceAccess | undefined;
    if (tenant) {
      const approvals = approvalsFor(request, options.policyFor?.(tenant) ?? DEFAULT_TENANT_POLICY);
      started = {
        ...started,
        invoiceId: keyOf(request.invoiceId),
        approval: { ...started.approval, required: approvals.required },
      };
      access = { tenant, createdBy, approvalsRequired: approvals.approvalsRequired };
    } else if (createdBy) {
      access = { createdBy, approvalsRequired: 1 };
    }
    try {
      await client.workflow.start<typeof invoiceWorkflow>(INVOICE_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: TASK_QUEUES.invoices,
        args: [
          {
            request: started,
            plan: PROVIDER_FACTS[request.provider].plan(request.direction),
            timing,
            ...(access ? { access } : {}),
            ...(options.recordEvents
              ? { eventLog: { tenant: tenant ?? UNTENANTED, invoiceId: request.invoiceId } }
              : {}),
          },
        ],
        // One invoice per id, for ever: a finished invoice is not started again under the same id.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { [REQUEST_HASH_MEMO]: fingerprint },
        staticSummary: `${request.direction} ${formatMoney(request.amount, request.currency)} via ${request.provider} for ${request.customer.id}`,
        staticDetails: [request.description, ...adjusted.notes].filter(Boolean).join('\n\n') || undefined,
        typedSearchAttributes: [
          { key: searchAttributes.status, value: 'CREATED' },
          { key: searchAttributes.provider, value: request.provider },
          { key: searchAttributes.direction, value: request.direction },
          { key: searchAttributes.amount, value: request.amount },
          { key: searchAttributes.currency, value: request.currency },
          { key: searchAttributes.customerId, value: request.customer.id },
          ...(tenant ? [{ key: searchAttributes.tenantId, value: tenant }] : []),
        ],
      });
      return { invoiceId: request.invoiceId, workflowId, created: true, request };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const description = await client.workflow.getHandle(workflowId).describe();
      if (description.memo?.[REQUEST_HASH_MEMO] !== fingerprint) throw new InvoiceConflictError(request.invoiceId);
      return { invoiceId: request.invoiceId, workflowId, created: false, request };
    }
  }

  async function decide<Input>(
    update: UpdateDefinition<InvoiceState, [Input]>,
    invoiceId: string,
    decision: Input,
  ): Promise<InvoiceState> {
    try {
      return present(await handle(invoiceId).executeUpdate(update, { args: [decision] }));
    } catch (error) {
      return refusedDecision(invoiceId, error);
    }
  }

  async function refusedDecision(invoiceId: string, error: unknown): Promise<never> {
    if (error instanceof WorkflowNotFoundError) {
      // An ended invoice takes no decisions; say which state it ended in rather than "not found".
      const ended = await getInvoice(invoiceId);
      throw new InvoiceStateError(`${INVALID_STATE}: invoice is already ${ended.status}`);
    }
    throw decisionError(error);
  }

  /**
   * Completes a waiting Bitfinex invoice by hand. Without `waitMs` it answers once the invoice has ended. With it, it
   * answers once the workflow has accepted the completion and either the invoice has ended or `waitMs` has passed,
   * then with the state as it stands (`forcedCompletion.outcome` 'pending'): the call to Bitfinex waits its turn on
   * the rate-limited queue, which can take longer than an HTTP caller should be held.
   */
  async function forceCompleteInvoice(
    invoiceId: string,
    completion: ForceCompletion,
    options: { waitMs?: number } = {},
  ): Promise<InvoiceState> {
    if (options.waitMs === undefined) return decide(forceCompleteUpdate, invoiceId, completion);
    try {
      const update = await handle(invoiceId).startUpdate(forceCompleteUpdate, {
        args: [completion],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      const outcome = update.result();
      // Still running when the wait ends: its later failure is the invoice's to record, not this caller's.
      outcome.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), options.waitMs);
      });
      const ended = await Promise.race([outcome, waited]).finally(() => clearTimeout(timer));
      return ended ? present(ended) : await getInvoice(invoiceId);
    } catch (error) {
      return refusedDecision(invoiceId, error);
    }
  }

  /** The invoice's whole state: from the running workflow, or from its result once it has ended. */
  async function getInvoice(invoiceId: string): Promise<InvoiceState> {
    return notFoundAware(invoiceId, async () => {
      const h = handle(invoiceId);
      const description = await h.describe();
      if (description.status.name === 'COMPLETED') return present(await h.result());
      const notReadyUntil = Date.now() + NOT_READY_WAIT_MS;
      for (;;) {
        try {
          return present(await h.query(statusQuery));
        } catch (error) {
          if (!isWorkflowNotReady(error)) throw error;
          if (Date.now() >= notReadyUntil) throw new InvoiceNotReadyError(invoiceId);
          await new Promise((resolve) => setTimeout(resolve, NOT_READY_RETRY_MS));
        }
      }
    });
  }

  async function listInvoices(
    filter: ListFilter = {},
  ): Promise<{ invoices: InvoiceSummary[]; nextPageToken?: string }> {
    const clauses = [`WorkflowType = '${INVOICE_WORKFLOW_TYPE}'`];
    if (tenant) clauses.push(`TenantId = ${quote(tenant)}`);
    if (filter.status) clauses.push(`InvoiceStatus = ${quote(filter.status)}`);
    if (filter.provider) clauses.push(`PaymentProvider = ${quote(filter.provider)}`);
    if (filter.customerId) clauses.push(`CustomerId = ${quote(filter.customerId)}`);
    const response = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: clauses.join(' AND '),
      pageSize: filter.pageSize ?? 50,
      nextPageToken: filter.nextPageToken ? Buffer.from(filter.nextPageToken, 'base64url') : undefined,
    });
    const field = (fields: Record<string, unknown> | null | undefined, name: string): unknown => {
      const payload = fields?.[name];
      return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
    };
    const invoices = (response.executions ?? []).map((execution): InvoiceSummary => {
      const workflowId = execution.execution?.workflowId ?? '';
      const fields = execution.searchAttributes?.indexedFields as Record<string, unknown> | undefined;
      const seconds = execution.startTime?.seconds;
      return {
        invoiceId: localId(invoiceIdOf(workflowId)),
        workflowId,
        status: field(fields, 'InvoiceStatus') as InvoiceStatus | undefined,
        provider: field(fields, 'PaymentProvider') as ProviderName | undefined,
        customerId: field(fields, 'CustomerId') as string | undefined,
        amount: field(fields, 'InvoiceAmount') as number | undefined,
        currency: field(fields, 'InvoiceCurrency') as string | undefined,
        startedAt: seconds ? new Date(Number(seconds) * 1000).toISOString() : undefined,
      };
    });
    const token = response.nextPageToken?.length
      ? Buffer.from(response.nextPageToken).toString('base64url')
      : undefined;
    return { invoices, nextPageToken: token };
  }

  /**
   * The invoice that holds a provider reference (a webhook that names only the provider's id). A reference belongs to
   * one invoice for good, so a found answer is remembered (bounded, oldest forgotten first) and a provider's later
   * webhooks for the same invoice cost no visibility query. A miss is not remembered: the invoice may index it soon.
   * With `provider`, only that provider's invoices are searched: a webhook route passes its own, so that a reference
   * of one provider can never lead to another provider's invoice.
   */
  async function findInvoiceByProviderRef(
    key: string,
    value: string,
    provider?: ProviderName,
  ): Promise<string | undefined> {
    const reference = providerReferenceValue(key, value);
    const cacheKey = `${provider ?? '*'}|${reference}`;
    const known = invoiceByReference.get(cacheKey);
    if (known) return known;
    const clauses = [`WorkflowType = '${INVOICE_WORKFLOW_TYPE}'`, `ProviderReferences = ${quote(reference)}`];
    if (provider) clauses.push(`PaymentProvider = ${quote(provider)}`);
    for await (const execution of client.workflow.list({ query: clauses.join(' AND '), pageSize: 1 })) {
      const invoiceId = invoiceIdOf(execution.workflowId);
      if (invoiceByReference.size >= REFERENCE_CACHE_SIZE) {
        const oldest = invoiceByReference.keys().next().value;
        if (oldest !== undefined) invoiceByReference.delete(oldest);
      }
      invoiceByReference.set(cacheKey, invoiceId);
      return invoiceId;
    }
    return undefined;
  }

  return {
    startInvoice,
    findInvoiceByProviderRef,
    approveInvoice: (invoiceId: string, decision: Decision) => decide(approveUpdate, invoiceId, decision),
    rejectInvoice: (invoiceId: string, decision: Decision) => decide(rejectUpdate, invoiceId, decision),
    cancelInvoice: (invoiceId: string, decision: Decision) => decide(cancelUpdate, invoiceId, decision),
    /** Moves an invoice in NEEDS_REVIEW to the final state an operator found at the provider. */
    resolveInvoice: (invoiceId: string, resolution: Resolution) => decide(resolveUpdate, invoiceId, resolution),
    /**
     * Completes a Bitfinex invoice still waiting for its payment, linking the deposit or ledger entry that paid it
     * (Complete Invoice); the invoice records that it was forced and by whom. Answers once the invoice has ended.
     */
    forceCompleteInvoice,
    getInvoice,
    listInvoices,
    /** Resolves with the final state once the invoice has ended. */
    waitForResult: (invoiceId: string): Promise<InvoiceState> =>
      notFoundAware(invoiceId, async () => present(await handle(invoiceId).result())),
    handle,
    tenant,
    options,
  };
}

export type InvoiceClient = ReturnType<typeof createInvoiceClient>;

/** The same client for another tenant or principal: the gateway makes one per request, for its caller. */
export function scopedInvoiceClient(
  invoices: InvoiceClient,
  scope: Pick<InvoiceClientOptions, 'tenant' | 'principal' | 'policyFor' | 'recordEvents'>,
): InvoiceClient {
  return createInvoiceClient({ ...invoices.options, ...scope });
}
