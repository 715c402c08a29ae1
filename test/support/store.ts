import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startStoreProcess } from '../../src/dev/store';
import { createLogger } from '../../src/logger';
import type { QueryResultRow } from 'pg';
import { openStore, type Queryable, type Store } from '../../src/store/database';

export interface TestStore {
  store: Store;
  url: string;
  close(): Promise<void>;
}

/**
 * A store of the test's own: a fresh folder copied from the run's template (one initdb per run, by the global setup),
 * so test files running side by side never see each other's events. Its own process, as in `npm start` (and jest's
 * module sandbox could not load PGlite's WebAssembly anyway).
 */
export async function startTestStore(): Promise<TestStore> {
  const template = process.env.TEST_STORE_TEMPLATE;
  if (!template) throw new Error('TEST_STORE_TEMPLATE is unset: run the tests through jest (its global setup).');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'payorch-store-'));
  const server = await startStoreProcess({ dataDir, template });
  try {
    const store = await openStore(server.url, createLogger({ level: process.env.LOG_LEVEL ?? 'error' }));
    return {
      store,
      url: server.url,
      async close() {
        await store.close();
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/**
 * The store as a test's workers see it: `before` runs ahead of every statement and every transaction, so the test can
 * slow the store down or take it away (by throwing). Closing it leaves the real store open.
 */
export function interceptedStore(inner: Store, before: (kind: 'query' | 'transaction') => Promise<void> | void): Store {
  return {
    query: async <R extends QueryResultRow>(sql: string, params?: readonly unknown[]) => {
      await before('query');
      return inner.query<R>(sql, params);
    },
    transaction: async <T>(work: (tx: Queryable) => Promise<T>) => {
      await before('transaction');
      return inner.transaction(work);
    },
    close: () => Promise.resolve(),
  };
}
