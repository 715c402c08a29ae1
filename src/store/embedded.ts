import { cp, mkdir, readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedStore {
  /** postgres://… for `openStore` and for processes that join (STORE_DATABASE_URL). */
  url: string;
  close(): Promise<void>;
}

/**
 * The development and test store: PostgreSQL compiled to WebAssembly (PGlite), in this process, served over the
 * PostgreSQL wire protocol so that every process of the stack uses the same `pg` client production uses. One
 * connection runs at a time; the socket server queues the others and keeps a transaction's statements together.
 * Not for production: it is one process's memory and one folder, with no replication or backup.
 */
export async function startEmbeddedStore(
  options: {
    dataDir?: string;
    port?: number;
    /** A data folder made earlier by this function: copied into an empty `dataDir`, skipping initdb (2 s, 700 MiB). */
    template?: string;
  } = {},
): Promise<EmbeddedStore> {
  if (options.dataDir) {
    await mkdir(options.dataDir, { recursive: true });
    if (options.template && (await readdir(options.dataDir)).length === 0) {
      await cp(options.template, options.dataDir, { recursive: true });
    }
  }
  const db = await PGlite.create(options.dataDir ?? 'memory://');
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port ?? 0, maxConnections: 64 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw error;
  }
  const port = listeningPort(server, options.port);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}

function listeningPort(server: PGLiteSocketServer, asked: number | undefined): number {
  // The server keeps its net.Server private; with port 0 the kernel's choice is only there.
  const address = (server as unknown as { server?: { address(): AddressInfo | string | null } }).server?.address();
  if (address && typeof address === 'object') return address.port;
  if (asked) return asked;
  throw new Error('the embedded store did not say which port it listens on');
}
