import type { Config } from '../config';
import type { Logger } from '../logger';
import { openStore, type Store } from '../store/database';
import { startEmbeddedStore } from '../store/embedded';

export interface StackStore {
  store: Store;
  /** What a process joining the stack sets as STORE_DATABASE_URL. */
  url: string;
  /** Where the embedded store keeps its data; absent for STORE_DATABASE_URL's server. */
  dataDir?: string;
  close(): Promise<void>;
}

/** STORE_DATABASE_URL's server when set; otherwise the embedded one, in STORE_DATA_DIR on STORE_PORT. */
export async function openStackStore(config: Config, logger: Logger, url?: string): Promise<StackStore> {
  const server = url ?? config.store.databaseUrl;
  if (server) {
    const store = await openStore(server, logger);
    return { store, url: server, close: () => store.close() };
  }
  const embedded = await startEmbeddedStore({ dataDir: config.store.dataDir, port: config.store.port });
  try {
    const store = await openStore(embedded.url, logger);
    return {
      store,
      url: embedded.url,
      dataDir: config.store.dataDir,
      async close() {
        await store.close();
        await embedded.close();
      },
    };
  } catch (error) {
    await embedded.close();
    throw error;
  }
}
