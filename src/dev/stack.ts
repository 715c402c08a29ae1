import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Store } from '../store/database';
import { openStackStore, type StackStore } from './store';
import { startGateway, type RunningGateway } from '../gateway/server';
import { createInvoiceClient, type InvoiceClient } from '../client';
import type { Config } from '../config';
import { installTemporalRuntimeLogger, type Logger } from '../logger';
import { createProviders } from '../providers';
import type { ProviderRegistry } from '../providers/types';
import { refuseSandboxesInProduction } from '../providers/sandbox/kit';
import { startSandboxes, type SandboxServer } from '../providers/sandbox/server';
import { connectClient, connectWorker } from '../temporal/connection';
import { startTemporal, type StartOptions, type TemporalServer } from '../temporal/dev-server';
import { createWorker } from '../temporal/worker';
import { ensureReconciliationSchedule } from '../temporal/reconciliation-schedule';
import { startWorkerHealth } from '../temporal/worker-health';
import { tracingFromConfig, type Tracing } from '../telemetry/tracing';

export interface Stack {
  server: TemporalServer;
  store: StackStore;
  sandboxes?: SandboxServer;
  gateway: RunningGateway;
  temporal: Client;
  invoices: InvoiceClient;
  stop(): Promise<void>;
}

export interface StackOptions {
  temporal?: StartOptions;
  /** Run the provider sandboxes (default: when any provider has no real base URL configured). */
  sandboxes?: boolean;
  sandboxTimeScale?: number;
  /** A Temporal already running (`npm run cluster`'s): used as is, and left running by `stop()`. */
  server?: TemporalServer;
  /** False when the invoice workers run as processes of their own (`npm run cluster`). */
  workers?: boolean;
  /** The store's server (`npm run cluster`'s database); default STORE_DATABASE_URL, else the embedded one. */
  storeUrl?: string;
}

/** Temporal (found, built or external), the provider sandboxes, the workers and the gateway: what `npm start` runs. */
export async function startStack(config: Config, logger: Logger, options: StackOptions = {}): Promise<Stack> {
  installTemporalRuntimeLogger(logger, { metricsBind: config.telemetry.temporalMetricsBind });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((error: unknown) => logger.error({ err: error }, 'stop failed'));
  };
  try {
    // Off unless OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; stopped last, so every other part's spans are flushed.
    const tracing = tracingFromConfig(config, 'payment-orchestrator');
    if (tracing) stops.push(() => tracing.shutdown());
    const server =
      options.server ??
      (await startTemporal(config, logger, {
        uiCodecEndpoint: `${config.gateway.url}/codec`,
        ...options.temporal,
      }));
    if (!options.server) stops.push(() => server.stop());
    const target = { address: server.address, namespace: server.namespace };

    const needsSandboxes =
      options.sandboxes ?? config.providers.enabled.some((provider) => !config.providers[provider].baseUrl);
    let sandboxes: SandboxServer | undefined;
    if (needsSandboxes) {
      refuseSandboxesInProduction(config);
      sandboxes = await startSandboxes({
        port: config.sandboxPort,
        logger: logger.child({ component: 'sandbox' }),
        webhookBaseUrl: `${config.gateway.url}/webhooks`,
        timeScale: options.sandboxTimeScale ?? 0.01,
      });
      const started = sandboxes;
      stops.push(() => started.close());
    }

    const store = await openStackStore(config, logger.child({ component: 'store' }), options.storeUrl);
    stops.push(() => store.close());

    const temporal = await connectClient(config, target, { tracing: tracing !== undefined });
    stops.push(() => temporal.connection.close());
    const providers = createProviders(config, logger);
    if (options.workers !== false) {
      stops.push(await runWorkers(config, logger, target, providers, tracing, { store: store.store, temporal }));
    }
    const invoices = createInvoiceClient({ client: temporal, timing: config.invoiceTiming });

    const gateway = await startGateway({
      config,
      logger,
      client: temporal,
      providers,
      store: store.store,
      allowDevAccess: true,
    });
    stops.push(() => gateway.close());
    return { server, store, sandboxes, gateway, temporal, invoices, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The invoice workers in this process; the returned function drains them and closes their connection. */
async function runWorkers(
  config: Config,
  logger: Logger,
  target: { address: string; namespace: string },
  providers: ProviderRegistry,
  tracing: Tracing | undefined,
  shared: { store: Store; temporal: Client },
): Promise<() => Promise<void>> {
  const connection: NativeConnection = await connectWorker(config, target);
  try {
    // The dev gateway is public to the local sandboxes, so the worker registers its Xprizo webhook URLs there.
    const workers = await createWorker({
      config,
      connection,
      namespace: target.namespace,
      activities: createActivities({ providers, logger, config, ...shared }),
      logger,
      gatewayUrl: config.gateway.url,
      tracing,
    });
    const running = workers.run();
    await ensureReconciliationSchedule(shared.temporal, config, logger).catch((error: unknown) =>
      logger.error({ err: error }, 'reconciliation schedule not set up'),
    );
    const healthPort = config.worker.healthPort;
    const health =
      healthPort === undefined ? undefined : await startWorkerHealth(() => workers.states(), { port: healthPort });
    return async () => {
      await health?.close();
      workers.shutdown();
      await running;
      await connection.close();
    };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
