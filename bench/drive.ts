import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { InvoiceClient } from '../src/client';
import { APPROVER, sampleRequest, sandboxCustomer, type PublicApi } from '../src/dev/samples';
import { isFinalStatus, type Direction, type InvoiceStatus, type ProviderName } from '../src/domain/constants';
import type { InvoiceRequestInput } from '../src/domain/invoice';
import { PROVIDERS } from '../src/providers';
import { statusQuery, type InvoiceState } from '../src/workflows/definitions';
import {
  BASELINE_TASK_QUEUE,
  BASELINE_WORKFLOW_TYPE,
  baselineApproveUpdate,
  baselineSignal,
  baselineStatusQuery,
  type BaselineInput,
  type baselineWorkflow,
} from './baseline-workflow';
import { Progress } from './progress';

export interface InvoiceSample {
  id: string;
  ok: boolean;
  /** Start call to result, as the service sees it. */
  e2eMs: number;
  /** The approval Update's round trip: sent to answered. */
  updateMs?: number;
  /** Status queries the driver sent to learn when to approve (billable in Temporal Cloud, and not in the history). */
  queries: number;
  error?: string;
}

export interface PhaseResult {
  samples: InvoiceSample[];
  wallSeconds: number;
}

/**
 * Learns how long an invoice takes to be ready for its approval, so the driver's first status query goes out shortly
 * before that moment: a few queries per invoice instead of one every few milliseconds, which would load the worker
 * it is measuring.
 */
class ReadinessEstimate {
  private estimateMs: number | undefined;

  firstWaitMs(): number {
    return this.estimateMs === undefined ? 20 : this.estimateMs * 0.7;
  }

  observe(ms: number): void {
    this.estimateMs = this.estimateMs === undefined ? ms : this.estimateMs * 0.9 + ms * 0.1;
  }
}

const POLL_FIRST_RETRY_MS = 10;
const POLL_MAX_MS = 200;

async function pollUntil<T>(
  query: () => Promise<T>,
  done: (value: T) => boolean,
  firstWaitMs: number,
  counter: { queries: number },
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  await sleep(firstWaitMs);
  let wait = POLL_FIRST_RETRY_MS;
  for (;;) {
    counter.queries++;
    // A query that lands before the first workflow task has run fails; the next one will not.
    const value = await query().catch(() => undefined);
    if (value !== undefined && done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms`);
    await sleep(wait);
    wait = Math.min(wait * 1.5, POLL_MAX_MS);
  }
}

async function pool(
  total: number,
  concurrency: number,
  progress: Progress | undefined,
  one: (index: number) => Promise<InvoiceSample>,
): Promise<PhaseResult> {
  const samples: InvoiceSample[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < total) {
      const index = next++;
      const sample = await one(index);
      if (!sample.ok) failed++;
      samples.push(sample);
      progress?.update(samples.length, failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  progress?.finish();
  return { samples, wallSeconds: (performance.now() - started) / 1000 };
}

function failure(id: string, startedAt: number, queries: number, error: unknown): InvoiceSample {
  return {
    id,
    ok: false,
    e2eMs: performance.now() - startedAt,
    queries,
    error: error instanceof Error ? error.message : String(error),
  };
}

/** What one invoice's run tells; the phase adds its id, its time and its query count. */
interface RunOutcome {
  ok: boolean;
  updateMs?: number;
  error?: string;
}

interface RunTools {
  /** Counts the status queries the run sends. */
  counter: { queries: number };
  /** Shared by the phase's runs: when an invoice is usually ready for its approval. */
  readiness: ReadinessEstimate;
  startedAt: number;
}

/**
 * One measured phase: `total` invoices, `concurrency` in flight, each timed from before its start to its result; a
 * run that throws is a failed sample. Ours and the baseline go through this same loop.
 */
function timedPhase(
  total: number,
  concurrency: number,
  label: string,
  idOf: (index: number) => string,
  run: (id: string, tools: RunTools) => Promise<RunOutcome>,
): Promise<PhaseResult> {
  const readiness = new ReadinessEstimate();
  return pool(total, concurrency, new Progress(label, total), async (index) => {
    const id = idOf(index);
    const counter = { queries: 0 };
    const startedAt = performance.now();
    try {
      const outcome = await run(id, { counter, readiness, startedAt });
      return { id, e2eMs: performance.now() - startedAt, queries: counter.queries, ...outcome };
    } catch (error) {
      return failure(id, startedAt, counter.queries, error);
    }
  });
}

export interface DriveContext {
  client: Client;
  invoices: InvoiceClient;
  api: PublicApi;
  provider: ProviderName;
  direction: Direction;
  /** Every invoice id of the run starts with it, so a shared cluster's other workflows are never touched. */
  runId: string;
}

export function benchRequest(ctx: DriveContext, invoiceId: string): InvoiceRequestInput {
  const request = sampleRequest({ invoiceId, provider: ctx.provider, direction: ctx.direction });
  // The run's own customer: visibility queries of the waiting mode find this run's invoices and no other.
  return { ...request, customer: { ...request.customer, id: `bench-${ctx.runId}` } };
}

/** The provider's customer-side step, as `driveSample` does it: what a real customer would do at the provider. */
async function customerStep(
  ctx: DriveContext,
  id: string,
  wait: (statuses: InvoiceStatus[]) => Promise<InvoiceState>,
): Promise<void> {
  const customer = sandboxCustomer(ctx.api);
  switch (ctx.provider) {
    case 'alfred': {
      if (ctx.direction !== 'pay_in') return;
      const state = await wait(['AWAITING_SETTLEMENT']);
      if (state.providerRefs.alfredInvoiceId) await customer.payAlfred(state.providerRefs.alfredInvoiceId);
      return;
    }
    case 'payone':
      await wait(['SUBMITTED', 'AWAITING_APPROVAL']);
      await customer.preAuthorizePayOne(id);
      return;
    case 'xprizo':
      if (ctx.direction !== 'pay_in') return;
      await wait(['AWAITING_SETTLEMENT']);
      await customer.acceptXprizoRequest(id);
      return;
    case 'bitfinex': {
      const state = await wait(['AWAITING_SETTLEMENT']);
      if (state.providerRefs.bitfinexInvoiceId) await customer.payBitfinex(state.providerRefs.bitfinexInvoiceId);
      return;
    }
  }
}

/** Our invoices, end to end through the client library, the sandboxes and the gateway's webhooks. */
export function driveOurs(
  ctx: DriveContext,
  total: number,
  concurrency: number,
  label: string,
  idPrefix: string,
): Promise<PhaseResult> {
  return timedPhase(
    total,
    concurrency,
    label,
    (index) => `${ctx.runId}-${idPrefix}${index}`,
    async (id, { counter, readiness, startedAt }) => {
      const request = benchRequest(ctx, id);
      await ctx.invoices.startInvoice(request);
      const handle = ctx.invoices.handle(id);
      const wait = (statuses: InvoiceStatus[], firstWaitMs = 20) =>
        pollUntil(
          () => handle.query(statusQuery),
          (state) => statuses.includes(state.status) || isFinalStatus(state.status),
          firstWaitMs,
          counter,
        );
      await customerStep(ctx, id, wait);
      let updateMs: number | undefined;
      if (request.approval?.required) {
        const state = await wait(['AWAITING_APPROVAL'], readiness.firstWaitMs());
        readiness.observe(performance.now() - startedAt);
        if (state.status === 'AWAITING_APPROVAL') {
          const sent = performance.now();
          await ctx.invoices.approveInvoice(id, { by: APPROVER });
          updateMs = performance.now() - sent;
        }
      }
      const result = await ctx.invoices.waitForResult(id);
      const ok = result.status === 'COMPLETED';
      const error = ok ? undefined : `${result.status}: ${result.failure?.message ?? result.lastError?.message ?? ''}`;
      return { ok, updateMs, error };
    },
  );
}

/** The activities before and after the approval in the provider's plan: the baseline mirrors them with no-ops. */
export function baselineShape(provider: ProviderName, direction: Direction): BaselineInput {
  const plan = PROVIDERS[provider].plan(direction);
  return {
    activitiesBefore: Number(plan.kyc) + Number(plan.paymentMethod) + Number(plan.bank) + 1,
    activitiesAfter: Number(plan.approveAtProvider) + Number(plan.complete),
  };
}

export function baselineWorkflowId(ctx: DriveContext, idPrefix: string, index: number): string {
  return `bench-baseline-${ctx.runId}-${idPrefix}${index}`;
}

/**
 * The baseline, driven the same way: start, the one signal (standing in for the provider's webhook), the same status
 * polling, the Update timed the same way, then the result.
 */
export function driveBaseline(
  ctx: DriveContext,
  total: number,
  concurrency: number,
  label: string,
  idPrefix: string,
): Promise<PhaseResult> {
  const shape = baselineShape(ctx.provider, ctx.direction);
  return timedPhase(
    total,
    concurrency,
    label,
    (index) => baselineWorkflowId(ctx, idPrefix, index),
    async (id, { counter, readiness, startedAt }) => {
      const handle = await ctx.client.workflow.start<typeof baselineWorkflow>(BASELINE_WORKFLOW_TYPE, {
        workflowId: id,
        taskQueue: BASELINE_TASK_QUEUE,
        args: [shape],
      });
      await handle.signal(baselineSignal, { eventId: `${id}:approval-requested` });
      const state = await pollUntil(
        () => handle.query(baselineStatusQuery),
        (s) => s.status !== 'RUNNING',
        readiness.firstWaitMs(),
        counter,
      );
      readiness.observe(performance.now() - startedAt);
      let updateMs: number | undefined;
      if (state.status === 'AWAITING_APPROVAL') {
        const sent = performance.now();
        await handle.executeUpdate(baselineApproveUpdate, { args: [{ by: APPROVER }] });
        updateMs = performance.now() - sent;
      }
      const result = await handle.result();
      return { ok: result.status === 'COMPLETED', updateMs };
    },
  );
}

export interface WaitingResult {
  started: number;
  failedStarts: number;
  startSeconds: number;
  /** From the first start until visibility counted every invoice at AWAITING_APPROVAL. */
  allWaitingSeconds: number;
  waiting: number;
  terminated: number;
  terminateSeconds: number;
}

/**
 * Starts `total` invoices and holds them all at AWAITING_APPROVAL. Readiness is counted through visibility (one
 * query every two seconds), not by querying each invoice, so that the worker's memory is what the invoices hold.
 */
export async function holdWaiting(
  ctx: DriveContext,
  total: number,
  concurrency: number,
  onAllWaiting: () => Promise<void>,
): Promise<WaitingResult> {
  const started = performance.now();
  const startResult = await pool(total, concurrency, new Progress('starting', total), async (index) => {
    const id = `${ctx.runId}-w${index}`;
    const at = performance.now();
    try {
      await ctx.invoices.startInvoice(benchRequest(ctx, id));
      return { id, ok: true, e2eMs: performance.now() - at, queries: 0 };
    } catch (error) {
      return failure(id, at, 0, error);
    }
  });
  const startedIds = startResult.samples.filter((s) => s.ok).map((s) => s.id);
  const query = `CustomerId = 'bench-${ctx.runId}' AND InvoiceStatus = 'AWAITING_APPROVAL' AND ExecutionStatus = 'Running'`;
  const progress = new Progress('waiting', startedIds.length);
  // An invoice that ended on the way (a provider refusal under load) will never wait: stop counting it.
  const endedQuery = `CustomerId = 'bench-${ctx.runId}' AND ExecutionStatus != 'Running'`;
  let waiting = 0;
  let ended = 0;
  const deadline = Date.now() + 30 * 60_000;
  while (waiting + ended < startedIds.length && Date.now() < deadline) {
    waiting = (await ctx.client.workflow.count(query)).count;
    ended = (await ctx.client.workflow.count(endedQuery)).count;
    progress.update(waiting + ended);
    if (waiting + ended < startedIds.length) await sleep(2000);
  }
  progress.finish();
  const allWaitingSeconds = (performance.now() - started) / 1000;
  await onAllWaiting();

  const terminateStarted = performance.now();
  const terminated = await pool(startedIds.length, concurrency, new Progress('ending', startedIds.length), (index) => {
    const id = startedIds[index] ?? '';
    const at = performance.now();
    return ctx.invoices
      .handle(id)
      .terminate('benchmark: waiting mode done')
      .then(
        (): InvoiceSample => ({ id, ok: true, e2eMs: performance.now() - at, queries: 0 }),
        (error: unknown) => failure(id, at, 0, error),
      );
  });
  return {
    started: startedIds.length,
    failedStarts: total - startedIds.length,
    startSeconds: startResult.wallSeconds,
    allWaitingSeconds,
    waiting,
    terminated: terminated.samples.filter((s) => s.ok).length,
    terminateSeconds: (performance.now() - terminateStarted) / 1000,
  };
}
