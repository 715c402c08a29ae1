// Under test/cluster (`npm run test:cluster`): it needs the PostgreSQL server binaries, which the cluster needs too and
// `npm test` on a bare machine must not.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { invoiceEventId, type NewInvoiceEvent } from '../../src/domain/events';
import { pageEvents, recordEvents } from '../../src/events/log';
import { createLogger } from '../../src/logger';
import { openStore, type Store } from '../../src/store/database';
import { freePort } from '../../src/temporal/dev-server';
import type { InvoiceState } from '../../src/workflows/definitions';
import { loadConfig } from '../../src/config';

/** PostgreSQL refuses to run as root: under root the server runs as the `postgres` account. */
function asPostgres(): { prefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return {
    prefix: ['setpriv', '--reuid', 'postgres', '--regid', 'postgres', '--init-groups', '--'],
    uid: id('-u'),
    gid: id('-g'),
  };
}

function event(invoiceId: string, sequence: number): NewInvoiceEvent {
  const occurredAt = new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)).toISOString();
  const invoice: InvoiceState = {
    invoiceId,
    provider: 'alfred',
    direction: 'pay_in',
    amount: 100,
    currency: 'USD',
    customerId: 'cus_1',
    status: 'SUBMITTED',
    transitions: [{ status: 'SUBMITTED', at: occurredAt }],
    providerRefs: {},
    compensations: [],
    eventsApplied: 0,
    eventsIgnored: 0,
  };
  return {
    id: invoiceEventId('t', invoiceId, sequence),
    type: 'invoice.submitted',
    tenant: 't',
    invoiceId,
    sequence,
    occurredAt,
    data: { invoice },
  };
}

/**
 * The embedded store runs one statement at a time, so it cannot show what the tenant's row lock is for. A real
 * PostgreSQL server (the cluster's binaries) runs recorders truly at once while a reader pages: the reader must never
 * see a later position before an earlier one has committed, or its cursor would pass that event for good.
 */
describe('the event log on PostgreSQL, recorders and a reader at once', () => {
  const dir = mkdtempSync(path.join('/var/tmp', 'payorch-events-pg-'));
  let server: ChildProcess | undefined;
  let store: Store;

  beforeAll(async () => {
    const bin = loadConfig({ NODE_ENV: 'test', POSTGRES_BIN_DIR: process.env.POSTGRES_BIN_DIR ?? '' }).cluster
      .postgresBinDir;
    const account = asPostgres();
    const data = path.join(dir, 'data');
    const socket = path.join(dir, 'run');
    for (const folder of [dir, data, socket]) {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      if (account.uid !== undefined && account.gid !== undefined) chownSync(folder, account.uid, account.gid);
    }
    const [initCommand = '', ...initArgs] = [
      ...account.prefix,
      path.join(bin, 'initdb'),
      ...['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'],
    ];
    const init = spawnSync(initCommand, initArgs, { encoding: 'utf8', cwd: dir });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
    const port = await freePort();
    const [command = '', ...args] = [
      ...account.prefix,
      path.join(bin, 'postgres'),
      ...[
        '-D',
        data,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${socket}`,
      ],
    ];
    server = spawn(command, args, { cwd: dir, stdio: 'ignore' });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        store = await openStore(url, createLogger({ level: 'silent' }), { maxConnections: 16 });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  });
  afterAll(async () => {
    await store?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once('exit', resolve));
      server.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits positions in order: a reader following the log never skips one', async () => {
    const invoices = Array.from({ length: 16 }, (_, index) => `inv-${index}`);
    const batches = 10;
    let recording = true;
    const seen: number[] = [];
    const reader = (async () => {
      let cursor = 0;
      // Reads until the recorders are done and it has caught up with them.
      for (;;) {
        const done = !recording;
        const page = await pageEvents(store, 't', { after: cursor, limit: 50 });
        // Each page goes on exactly from the cursor: nothing after it can have committed before it.
        expect(page.events.map((e) => e.position)).toEqual(page.events.map((_, index) => cursor + index + 1));
        seen.push(...page.events.map((e) => e.position));
        cursor = page.next;
        if (done && !page.hasMore) return;
      }
    })();
    try {
      await Promise.all(
        invoices.map(async (invoiceId) => {
          for (let batch = 0; batch < batches; batch++) {
            const events = [1, 2, 3].map((n) => event(invoiceId, batch * 3 + n));
            // A retry racing its first attempt records nothing twice.
            await Promise.all([recordEvents(store, events), recordEvents(store, events)]);
          }
        }),
      );
    } finally {
      // The reader stops too when a recorder failed, so the test ends with the recorder's error.
      recording = false;
      await reader;
    }
    const total = invoices.length * batches * 3;
    expect(seen).toEqual(Array.from({ length: total }, (_, index) => index + 1));
    const all = await pageEvents(store, 't', { limit: 500 });
    for (const invoiceId of invoices) {
      const own = all.events.filter((e) => e.invoiceId === invoiceId).map((e) => e.sequence);
      expect(own).toEqual(Array.from({ length: batches * 3 }, (_, index) => index + 1));
    }
  });
});
