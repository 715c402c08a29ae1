import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createInvoiceClient } from '../client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { warnIfDevelopmentKey } from '../temporal/codec';
import type { ProviderRegistry } from '../providers/types';
import type { Store } from '../store/database';
import { buildGateway, type GatewayDeps } from './app';
import { accessFromConfig, createDevAccess, type DevAccess } from './auth';
import { temporalHealthCheck, workerHealthCheck } from './health';

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  /** Set when no keys were configured and `allowDevAccess` let some be made: show them to the developer once. */
  devAccess?: DevAccess['keys'];
  close(): Promise<void>;
}

export interface StartGatewayOptions {
  config: Config;
  logger: Logger;
  client: Client;
  providers: ProviderRegistry;
  /** `npm start` only: make development principals when no keys are configured, instead of refusing to start. */
  allowDevAccess?: boolean;
  /** The orchestrator's store (see src/store); without it the event, webhook-endpoint and reconciliation routes answer 503. */
  store?: Store;
  overrides?: Partial<Omit<GatewayDeps, 'invoices' | 'providers' | 'config' | 'logger'>>;
}

/** Builds the gateway on a connected client and listens on GATEWAY_HOST:GATEWAY_PORT. */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger, client } = options;
  warnIfDevelopmentKey(config, logger);
  const configured = Boolean(config.gateway.keysFile || config.gateway.keysJson || options.overrides?.access);
  const dev = options.allowDevAccess && !configured ? createDevAccess() : undefined;
  const access = options.overrides?.access ?? dev?.registry ?? accessFromConfig(config);
  const app = buildGateway({
    invoices: createInvoiceClient({ client, timing: config.invoiceTiming }),
    providers: options.providers,
    config,
    logger,
    temporalHealth: temporalHealthCheck(client),
    workerHealth: workerHealthCheck(client),
    temporal: client,
    store: options.store,
    ...options.overrides,
    access,
  });
  const address = await app.listen({ host: config.gateway.host, port: config.gateway.port });
  return { app, url: address, devAccess: dev?.keys, close: () => app.close() };
}
