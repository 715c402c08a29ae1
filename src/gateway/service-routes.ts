import type { Client } from '@temporalio/client';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Store } from '../store/database';

/** The `/v1` plugin's typed instance: authentication, the per-key limit and `config.role` checks already apply. */
export type ServiceApi = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What the route modules beside the invoice routes (events, webhook endpoints, reconciliations) get. */
export interface ServiceRouteDeps {
  /** Absent in a gateway started without a store: those routes then answer 503 StoreUnavailable. */
  store?: Store;
  /** Absent in a gateway built without one (some tests); the routes that start workflows then answer 503. */
  temporal?: Client;
  config: Config;
  logger: Logger;
  withDeadline: <T>(ms: number, call: () => Promise<T>) => Promise<T>;
  deadlineMs: number;
}
