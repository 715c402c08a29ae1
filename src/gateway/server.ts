import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { createInvoiceClient } from '../client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { warnIfDevelopmentKey } from '../temporal/codec';
import type { ProviderRegistry } from '../providers/types';
import { buildGateway, type GatewayDeps } from './app';
import { createDevApiKey } from './auth';
import { temporalHealthCheck, workerHealthCheck } from './health';

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  /** Set when no key was configured and `devApiKey` allowed one to be made: show it to the developer once. */
  devApiKey?: string;
  close(): Promise<void>;
}

export interface StartGatewayOptions {
  config: Config;
  logger: Logger;
  client: Client;
  providers: ProviderRegistry;
  /** `npm start` only: make a random key when GATEWAY_API_KEYS is empty, instead of refusing to start. */
  allowDevApiKey?: boolean;
  overrides?: Partial<Omit<GatewayDeps, 'invoices' | 'providers' | 'config' | 'logger'>>;
}

/** Builds the gateway on a connected client and listens on GATEWAY_HOST:GATEWAY_PORT. */
export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const { config, logger, client } = options;
  warnIfDevelopmentKey(config, logger);
  const devApiKey =
    options.allowDevApiKey && config.gateway.apiKeys.length === 0 && !options.overrides?.apiKeys?.length
      ? createDevApiKey()
      : undefined;
  const app = buildGateway({
    invoices: createInvoiceClient({ client, timing: config.invoiceTiming }),
    providers: options.providers,
    config,
    logger,
    temporalHealth: temporalHealthCheck(client),
    workerHealth: workerHealthCheck(client),
    ...options.overrides,
    ...(devApiKey ? { apiKeys: [devApiKey] } : {}),
  });
  const address = await app.listen({ host: config.gateway.host, port: config.gateway.port });
  return { app, url: address, devApiKey, close: () => app.close() };
}
