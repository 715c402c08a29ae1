import type { FastifyInstance } from 'fastify';
import { buildGateway, type GatewayDeps } from '../../src/gateway/app';
import { temporalHealthCheck, workerHealthCheck } from '../../src/gateway/health';
import { TEST_KEYS, testAccess } from '../support/access';
import type { TestEnv } from '../support/temporal-env';

/** The service's key (tenant `test`); the other principals' keys are in ../support/access. */
export const API_KEY = TEST_KEYS.service;

export interface TestGateway {
  app: FastifyInstance;
  url: string;
  /** fetch against the gateway with the test API key. */
  /** fetch against the gateway with the service's key, or `key`. */
  call(
    path: string,
    init?: { method?: string; body?: unknown; headers?: Record<string, string>; key?: string },
  ): Promise<Response>;
  close(): Promise<void>;
}

/** A gateway over the test env's client, listening on a free port. */
export async function startTestGateway(
  env: TestEnv,
  overrides: Partial<Omit<GatewayDeps, 'invoices' | 'config' | 'logger'>> = {},
): Promise<TestGateway> {
  const app = buildGateway({
    invoices: env.invoices,
    providers: overrides.providers ?? ({} as GatewayDeps['providers']),
    config: env.config,
    logger: env.logger,
    access: testAccess(),
    temporalHealth: temporalHealthCheck(env.temporal),
    workerHealth: workerHealthCheck(env.temporal),
    webhooks: {},
    ...overrides,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    url,
    call: (path, init = {}) =>
      fetch(`${url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          authorization: `Bearer ${init.key ?? API_KEY}`,
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...init.headers,
        },
        body:
          init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      }),
    close: () => app.close(),
  };
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}
