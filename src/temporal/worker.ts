import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '@temporalio/activity';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type NativeConnection,
  type WorkerOptions,
  type WorkflowBundle,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { InvoiceActivities } from '../activities';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Tracing } from '../telemetry/tracing';
import { PROVIDERS } from '../providers';
import { dataConverter, warnIfDevelopmentKey } from './codec';
import type { WorkerHealth } from './worker-health';
import { TASK_QUEUES } from '../workflows/definitions';

const bundles = new Map<boolean, Promise<WorkflowBundle>>();

/** Temporal's workflow interceptors: a span per workflow run, activity start and handler, exported through a sink. */
const WORKFLOW_TRACING_MODULE = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/**
 * Bundling takes seconds: done once per process and flavour, and shared by every worker it creates. With `tracing` the
 * bundle carries the OpenTelemetry workflow interceptors (they change no command: a trace header on scheduled activities
 * and SDK flags in task metadata); without it the workflow code has no tracer at all.
 */
export function workflowBundle(options: { tracing?: boolean } = {}): Promise<WorkflowBundle> {
  const tracing = options.tracing ?? false;
  let bundle = bundles.get(tracing);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: require.resolve(path.join(__dirname, '..', 'workflows')),
      workflowInterceptorModules: tracing ? [WORKFLOW_TRACING_MODULE] : [],
      // webpack's report is noise at every start; problems still surface as WARN and ERROR.
      logger: new DefaultLogger('WARN'),
    }).then(({ code }) => ({ code }));
    bundles.set(tracing, bundle);
  }
  return bundle;
}

/**
 * Where `npm run build:bundle` leaves the workflow bundle: beside the compiled entry files (dist/workflow-bundle.js).
 * Only compiled code looks for one: under tsx or jest the workflows are always bundled from the current source, so a
 * bundle left over from an earlier build can never stand in for code edited since.
 */
export const PREBUILT_WORKFLOW_BUNDLE: string | undefined =
  path.extname(__filename) === '.js' ? path.join(__dirname, '..', 'workflow-bundle.js') : undefined;

/** The prebuilt bundle of one flavour: the tracing one carries the OpenTelemetry workflow interceptors. */
export function prebuiltWorkflowBundle(tracing: boolean): string | undefined {
  return tracing ? PREBUILT_WORKFLOW_BUNDLE?.replace(/\.js$/, '-tracing.js') : PREBUILT_WORKFLOW_BUNDLE;
}

/**
 * The bundle a worker runs: the one built with the image when it is there, so a production start (and every replica
 * scaled out) skips webpack, else bundled here from the workflow source.
 */
export function workerWorkflowBundle(
  options: { tracing?: boolean; prebuilt?: string } = {},
): Promise<WorkflowBundleOption> {
  const prebuilt = options.prebuilt ?? prebuiltWorkflowBundle(options.tracing ?? false);
  return prebuilt && existsSync(prebuilt) ? Promise.resolve({ codePath: prebuilt }) : workflowBundle(options);
}

/** Bundles the workflow code once into `target`, replaced whole so a worker never reads it half-written. */
export async function writeWorkflowBundle(
  target: string,
  options: { tracing?: boolean } = {},
): Promise<{ bytes: number }> {
  const { code } = await workflowBundle(options);
  await mkdir(path.dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.tmp`;
  await writeFile(partial, code);
  await rename(partial, target);
  return { bytes: Buffer.byteLength(code) };
}

/** What a worker needs for tracing: activity interceptors, and the sink that exports the workflows' spans. */
export function tracingOptions(tracing: Tracing) {
  return {
    interceptors: {
      activity: [
        (ctx: Context) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  } satisfies Partial<WorkerOptions>;
}

export interface WorkerSetup {
  config: Config;
  connection: NativeConnection;
  namespace: string;
  activities: InvoiceActivities;
  logger: Logger;
  /** The gateway as providers reach it, for the webhook URLs registered at start; default GATEWAY_PUBLIC_URL. */
  gatewayUrl?: string;
  /** Set when the process traces: workflows and activities continue the trace their caller started. */
  tracing?: Tracing;
}

/** The workflow worker and the Bitfinex activity worker, started and stopped together. */
export interface InvoiceWorkers {
  run(): Promise<void>;
  runUntil<T>(work: Promise<T> | (() => Promise<T>)): Promise<T>;
  shutdown(): void;
  /** Each worker's state by task queue, for the health endpoint. */
  states(): WorkerHealth['workers'];
}

/** The worker options that come from config (`WORKER_*`, the payload codec); the benchmark's baseline worker takes the same. */
export function workerTuning(config: Config) {
  const tuning = config.worker;
  return {
    maxCachedWorkflows: tuning.maxCachedWorkflows,
    maxConcurrentActivityTaskExecutions: tuning.maxConcurrentActivityTaskExecutions,
    maxConcurrentWorkflowTaskExecutions: tuning.maxConcurrentWorkflowTaskExecutions,
    maxConcurrentWorkflowTaskPolls: tuning.workflowPollers,
    maxConcurrentActivityTaskPolls: tuning.activityPollers,
    reuseV8Context: tuning.reuseV8Context,
    // On SIGTERM the worker stops polling and lets the activities in flight finish for this long before cancelling them.
    shutdownGraceTime: config.worker.shutdownGraceMs,
    // Activity inputs and results and the workflow's own payloads are encrypted before they reach the history.
    dataConverter: dataConverter(config),
  } satisfies Partial<WorkerOptions>;
}

export async function createWorker({
  config,
  connection,
  namespace,
  activities,
  logger,
  gatewayUrl = config.gateway.publicUrl,
  tracing,
}: WorkerSetup): Promise<InvoiceWorkers> {
  const tuning = config.worker;
  warnIfDevelopmentKey(config, logger);
  const main = await Worker.create({
    connection,
    namespace,
    taskQueue: TASK_QUEUES.invoices,
    workflowBundle: await workerWorkflowBundle({ tracing: tracing !== undefined }),
    activities,
    ...workerTuning(config),
    ...(tracing ? tracingOptions(tracing) : {}),
  });
  // The server enforces this rate across every worker polling the queue, so scaling workers out cannot exceed
  // Bitfinex's limit: each activity attempt here makes at most one request (see `bitfinexActivitiesPerSecond`).
  // A process that does not serve Bitfinex leaves the queue alone, so one process can hold the key and its nonces.
  const workers = [main];
  if (config.providers.enabled.includes('bitfinex')) {
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: TASK_QUEUES.bitfinex,
        activities,
        maxTaskQueueActivitiesPerSecond: tuning.bitfinexMaxActivitiesPerSecond,
        dataConverter: dataConverter(config),
        // Few at once: tasks a starved worker accepted all go out together when it wakes, and the rate leaves room for
        // only this many. The calls of one key go one at a time anyway (see KeyLane).
        maxConcurrentActivityTaskExecutions: tuning.bitfinexMaxConcurrentRequests,
        shutdownGraceTime: tuning.shutdownGraceMs,
        ...(tracing ? { interceptors: tracingOptions(tracing).interceptors } : {}),
      }),
    );
  }
  logger.info({ namespace, taskQueues: workers.map((worker) => worker.options.taskQueue) }, 'workers created');
  await onWorkerStart(config, logger, gatewayUrl);
  return {
    async run() {
      await Promise.all(workers.map((worker) => worker.run()));
    },
    async runUntil<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
      const promise = typeof work === 'function' ? work() : work;
      const [result] = await Promise.all(workers.map((worker) => worker.runUntil(promise)));
      return result as T;
    },
    shutdown() {
      for (const worker of workers) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
    },
    states() {
      return workers.map((worker) => ({ taskQueue: worker.options.taskQueue, state: worker.getState() }));
    },
  };
}

/** Each served provider's start hook (Xprizo registers its webhook URLs), one after the other, before work is polled. */
async function onWorkerStart(config: Config, logger: Logger, gatewayUrl: string | undefined): Promise<void> {
  for (const definition of Object.values(PROVIDERS)) {
    if (!definition.onWorkerStart || !config.providers.enabled.includes(definition.name)) continue;
    const log = logger.child({ provider: definition.name });
    await definition.onWorkerStart({ config, logger: log, gatewayUrl }).catch((error: unknown) => {
      // A hook should not throw; if one does, its provider is degraded but the worker still serves the others.
      log.error({ err: error instanceof Error ? error.message : String(error) }, 'provider start hook failed');
    });
  }
}

/**
 * The SDK stops listening for SIGTERM and SIGINT once the first arrives and starts draining, so a second one (a
 * supervisor that signals its whole process group, a repeated Ctrl-C) would meet Node's default and kill the process
 * mid-drain, cutting short the provider calls in flight. Call once the workers exist: from then on a repeated signal is
 * logged and the drain goes on, bounded by WORKER_SHUTDOWN_GRACE_MS. Only SIGKILL ends it sooner.
 */
export function holdRepeatedStopSignals(logger: Logger): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => logger.warn({ signal }, 'already stopping: the activities in flight finish first'));
  }
}
