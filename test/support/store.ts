import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../src/logger';
import { openStore, type Store } from '../../src/store/database';
import { startEmbeddedStore } from '../../src/store/embedded';

export interface TestStore {
  store: Store;
  url: string;
  close(): Promise<void>;
}

/**
 * A store of the test's own: the embedded PostgreSQL in a fresh folder copied from the run's template (made once by
 * the global setup), so test files running side by side never see each other's events.
 */
export async function startTestStore(): Promise<TestStore> {
  const template = process.env.TEST_STORE_TEMPLATE;
  if (!template) throw new Error('TEST_STORE_TEMPLATE is unset: run the tests through jest (its global setup).');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'payorch-store-'));
  const embedded = await startEmbeddedStore({ dataDir, template });
  const store = await openStore(embedded.url, createLogger({ level: process.env.LOG_LEVEL ?? 'error' }));
  return {
    store,
    url: embedded.url,
    async close() {
      await store.close();
      await embedded.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
