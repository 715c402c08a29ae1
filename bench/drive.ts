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
  /** Start call to result, as the service sees it (open loop: from the arrival's scheduled moment). */
  e2eMs: number;
  /** Start to the moment the driver's status query first saw AWAITING_APPROVAL (invoices that need an approval). */
  awaitingMs?: number;
  /** When the run ended, on the driver's performance clock. */
  endedAt?: number;
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
  awaitingMs?: number;
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

/** One kind of invoice (ours or the baseline): how its ids are made and how one is driven end to end. */
export interface Runner {
  idOf(index: number): string;
  run(id: string, tools: RunTools): Promise<RunOutcome>;
}

/** One invoice: timed from `startedAt` (now, or the open loop's scheduled arrival) to its result; a throw fails it. */
async function runOne(
  runner: Runner,
  index: number,
  readiness: ReadinessEstimate,
  startedAt = performance.now(),
): Promise<InvoiceSample> {
  const id = runner.idOf(index);
  const counter = { queries: 0 };
  try {
    const outcome = await runner.run(id, { counter, readiness, startedAt });
    const endedAt = performance.now();
    return { id, e2eMs: endedAt - startedAt, queries: counter.queries, endedAt, ...outcome };
  } catch (error) {
    return { ...failure(id, startedAt, counter.queries, error), endedAt: performance.now() };
  }
}

/** Closed loop: `total` invoices, `concurrency` in flight; ours and the baseline go through this same loop. */
export function closedPhase(runner: Runner, total: number, concurrency: number, label: string): Promise<PhaseResult> {
  const readiness = new ReadinessEstimate();
  return pool(total, concurrency, new Progress(label, total), (index) => runOne(runner, index, readiness));
}

export interface OpenPhaseResult extends PhaseResult {
  /** Arrivals scheduled (and started) in the window. */
  arrivals: number;
  windowSeconds: number;
  /** The latest an arrival was started after its scheduled moment: the driver's own lag, inside every latency. */
  maxStartLagMs: number;
  /** Invoices still running when the window closed, and the most running at once. */
  inFlightAtWindowEnd: number;
  peakInFlight: number;
  /** From the window's end until the last invoice ended. */
  drainSeconds: number;
}

/**
 * Open loop: each invoice starts at its scheduled arrival (`arrivalsMs` after the phase starts), whether or not the
 * earlier ones have finished, and its latencies count from that scheduled moment: a driver or stack that falls behind
 * shows in the figures instead of slowing the arrivals (no coordinated omission).
 */
export async function openPhase(
  runner: Runner,
  arrivalsMs: readonly number[],
  windowMs: number,
  label: string,
): Promise<OpenPhaseResult> {
  const readiness = new ReadinessEstimate();
  const progress = new Progress(label, arrivalsMs.length);
  const runs: Promise<InvoiceSample>[] = [];
  let inFlight = 0;
  let peakInFlight = 0;
  let ended = 0;
  let failed = 0;
  let maxStartLagMs = 0;
  const origin = performance.now();
  for (const [index, offset] of arrivalsMs.entries()) {
    const due = origin + offset;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    maxStartLagMs = Math.max(maxStartLagMs, performance.now() - due);
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    runs.push(
      runOne(runner, index, readiness, due).then((sample) => {
        inFlight--;
        ended++;
        if (!sample.ok) failed++;
        progress.update(ended, failed, `in flight ${inFlight}`);
        return sample;
      }),
    );
  }
  // The window lasts its full length even when the last arrival came early: rates and backlog are read at its end.
  const untilEnd = origin + windowMs - performance.now();
  if (untilEnd > 0) await sleep(untilEnd);
  const windowEnd = performance.now();
  const inFlightAtWindowEnd = inFlight;
  const samples = await Promise.all(runs);
  progress.finish();
  const last = performance.now();
  return {
    samples,
    wallSeconds: (last - origin) / 1000,
    arrivals: arrivalsMs.length,
    windowSeconds: (windowEnd - origin) / 1000,
    maxStartLagMs,
    inFlightAtWindowEnd,
    peakInFlight,
    drainSeconds: (last - windowEnd) / 1000,
  };
}

/**
 * Poisson arrivals: exponential gaps at `rate` per second, up to `seconds`, from a seeded generator, so the same seed
 * and rate give the same schedule (ours and the baseline are offered the very same arrivals).
 */
export function poissonArrivals(rate: number, seconds: number, seed: number): number[] {
  // splitmix32: small, fast, and good enough for inter-arrival times; Math.random cannot be seeded.
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
  const arrivals: number[] = [];
  let at = 0;
  for (;;) {
    at += (-Math.log(1 - next()) / rate) * 1000;
    if (at >= seconds * 1000) return arrivals;
    arrivals.push(at);
  }
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
export function oursRunner(ctx: DriveContext, idPrefix: string): Runner {
  return {
    idOf: (index) => `${ctx.runId}-${idPrefix}${index}`,
    async run(id, { counter, readiness, startedAt }) {
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
      let awaitingMs: number | undefined;
      if (request.approval?.required) {
        const state = await wait(['AWAITING_APPROVAL'], readiness.firstWaitMs());
        readiness.observe(performance.now() - startedAt);
        if (state.status === 'AWAITING_APPROVAL') {
          awaitingMs = performance.now() - startedAt;
          const sent = performance.now();
          await ctx.invoices.approveInvoice(id, { by: APPROVER });
          updateMs = performance.now() - sent;
        }
      }
      const result = await ctx.invoices.waitForResult(id);
      const ok = result.status === 'COMPLETED';
      const error = ok ? undefined : `${result.status}: ${result.failure?.message ?? result.lastError?.message ?? ''}`;
      return { ok, awaitingMs, updateMs, error };
    },
  };
}

export function driveOurs(
  ctx: DriveContext,
  total: number,
  concurrency: number,
  label: string,
  idPrefix: string,
): Promise<PhaseResult> {
  return closedPhase(oursRunner(ctx, idPrefix), total, concurrency, label);
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
export function baselineRunner(ctx: DriveContext, idPrefix: string): Runner {
  const shape = baselineShape(ctx.provider, ctx.direction);
  return {
    idOf: (index) => baselineWorkflowId(ctx, idPrefix, index),
    async run(id, { counter, readiness, startedAt }) {
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
      let awaitingMs: number | undefined;
      if (state.status === 'AWAITING_APPROVAL') {
        awaitingMs = performance.now() - startedAt;
        const sent = performance.now();
        await handle.executeUpdate(baselineApproveUpdate, { args: [{ by: APPROVER }] });
        updateMs = performance.now() - sent;
      }
      const result = await handle.result();
      return { ok: result.status === 'COMPLETED', awaitingMs, updateMs };
    },
  };
}

export function driveBaseline(
  ctx: DriveContext,
  total: number,
  concurrency: number,
  label: string,
  idPrefix: string,
): Promise<PhaseResult> {
  return closedPhase(baselineRunner(ctx, idPrefix), total, concurrency, label);
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
