import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import type { Logger } from '../logger';
import { MIGRATIONS } from './migrations';

/** What a repository needs: a query, and a transaction that commits only if its function returns. */
export interface Queryable {
  query<R extends QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface Store extends Queryable {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Any lock id will do as long as nothing else on the server takes it: it serialises concurrent migrations. */
const MIGRATION_LOCK = 724_113_905;

/**
 * The embedded store (src/store/embedded.ts) runs one protocol message at a time from a queue shared by every
 * connection, and keeps one connection's messages together only inside a transaction: two parameterized statements of
 * two connections could interleave their Parse and Bind, and one would bind the other's statement ("unnamed prepared
 * statement does not exist"). There, each parameterized statement outside a transaction runs in one of its own.
 */
const EMBEDDED_VERSION = /wasm32|emscripten/i;

function singleStatementTransactions(pool: Pool): Queryable {
  return {
    async query<R extends QueryResultRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      if (!params.length) return (await pool.query<R>(sql)).rows;
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await client.query<R>(sql, [...params]);
        await client.query('COMMIT');
        return result.rows;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}

function queryable(client: Pool | PoolClient): Queryable {
  return {
    async query<R extends QueryResultRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      // Without parameters the simple protocol runs, which takes several statements (a migration) at once.
      const result = params.length ? await client.query<R>(sql, [...params]) : await client.query<R>(sql);
      return result.rows;
    },
  };
}

/**
 * The orchestrator's PostgreSQL store (STORE_DATABASE_URL), its schema brought up to date. Every process that opens it
 * migrates under an advisory lock, so a worker and a gateway starting together apply each step once.
 */
export async function openStore(
  url: string,
  logger: Logger,
  options: { maxConnections?: number } = {},
): Promise<Store> {
  const pool = new Pool({ connectionString: url, max: options.maxConnections ?? 8 });
  // An idle connection dropped by the server is an error event on the pool; without a listener it would crash.
  pool.on('error', (error) => logger.warn({ err: error }, 'store connection lost'));
  // Plain statements until the server is known: the migration runs in a transaction either way.
  let statements = queryable(pool);
  const store: Store = {
    query: <R extends QueryResultRow>(sql: string, params?: readonly unknown[]) => statements.query<R>(sql, params),
    async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
  try {
    await migrate(store, logger);
    const [server] = await store.query<{ version: string }>('SELECT version() AS version');
    if (server && EMBEDDED_VERSION.test(server.version)) statements = singleStatementTransactions(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return store;
}

async function migrate(store: Store, logger: Logger): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await tx.query<{ id: number }>('SELECT id FROM schema_migrations')).map((row) => Number(row.id)),
    );
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.id)) continue;
      await tx.query(migration.sql);
      await tx.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [migration.id, migration.name]);
      logger.info({ migration: migration.id, name: migration.name }, 'store migrated');
    }
  });
}
