import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT, type Config } from '../config';
import type { Logger } from '../logger';
import { openStore, type Store } from '../store/database';

export interface StackStore {
  store: Store;
  /** What a process joining the stack sets as STORE_DATABASE_URL. */
  url: string;
  /** Where the embedded store keeps its data; absent for STORE_DATABASE_URL's server. */
  dataDir?: string;
  close(): Promise<void>;
}

/**
 * The embedded store (src/dev/store-server.ts) in a process of its own, serving `dataDir` (copied from `template` when
 * the folder is new): PGlite runs every statement on its process's one thread, which must not be the worker's or the
 * gateway's. It stops when asked, and by itself when this process goes (its stdin closes). Resolves once it listens.
 */
export async function startStoreProcess(options: {
  dataDir: string;
  port?: number;
  template?: string;
}): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src', 'dev', 'store-server.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      STORE_DATA_DIR: options.dataDir,
      STORE_TEMPLATE: options.template ?? '',
      STORE_PORT: String(options.port ?? 0),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the store exited (${code}) before it listened: ${stderr.trim()}`)));
  });
  return {
    url,
    pid: child.pid,
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

/** STORE_DATABASE_URL's server (or `url`) when set; otherwise the embedded one, in STORE_DATA_DIR on STORE_PORT. */
export async function openStackStore(config: Config, logger: Logger, url?: string): Promise<StackStore> {
  const server = url ?? config.store.databaseUrl;
  if (server) {
    const store = await openStore(server, logger);
    return { store, url: server, close: () => store.close() };
  }
  const embedded = await startStoreProcess({ dataDir: config.store.dataDir, port: config.store.port });
  try {
    const store = await openStore(embedded.url, logger);
    return {
      store,
      url: embedded.url,
      dataDir: config.store.dataDir,
      async close() {
        await store.close();
        await embedded.stop();
      },
    };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}
