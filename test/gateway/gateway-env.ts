import type { FastifyInstance } from 'fastify';
import { buildGateway, type GatewayDeps } from '../../src/gateway/app';
import { temporalHealthCheck, workerHealthCheck } from '../../src/gateway/health';
import type { TestEnv } from '../support/temporal-env';

export const API_KEY = 'test-key-0123456789';

export interface TestGateway {
  app: FastifyInstance;
  url: string;
  /** fetch against the gateway with the test API key. */
  call(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>;
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
    apiKeys: [API_KEY, 'second-key'],
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
          authorization: `Bearer ${API_KEY}`,
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
