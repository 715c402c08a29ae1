import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger } from '../../src/logger';
import { openStore, type Store } from '../../src/store/database';

export interface TestStore {
  store: Store;
  url: string;
  close(): Promise<void>;
}

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The embedded store (src/dev/store-server.ts) in a process of its own, serving `dataDir`; copied from `template` when
 * the folder is new. Resolves once it listens.
 */
export async function startStoreProcess(
  dataDir: string,
  template?: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['src/dev/store-server.ts'], {
    cwd: ROOT,
    env: { ...process.env, STORE_DATA_DIR: dataDir, STORE_TEMPLATE: template ?? '', STORE_PORT: '0' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`the store process exited (${code}) before listening: ${stderr}`)));
  });
  return {
    url,
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

/**
 * A store of the test's own: a fresh folder copied from the run's template (one initdb per run, by the global setup),
 * so test files running side by side never see each other's events.
 */
export async function startTestStore(): Promise<TestStore> {
  const template = process.env.TEST_STORE_TEMPLATE;
  if (!template) throw new Error('TEST_STORE_TEMPLATE is unset: run the tests through jest (its global setup).');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'payorch-store-'));
  const server = await startStoreProcess(dataDir, template);
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
