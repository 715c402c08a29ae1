import { npmStartEnv } from '../support/npm-start';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gatewayClient, sampleRequest, whileUnavailable, type PublicApi } from '../../src/dev/samples';
import type { InvoiceEvent } from '../../src/domain/events';
import { TEST_KEYS, TEST_TENANT, testAccessEnv } from '../support/access';
import { spawnGroup, type Spawned } from '../support/processes';
import { eventually } from '../support/wait';

interface EventPage {
  data: InvoiceEvent[];
  next: string;
  hasMore: boolean;
}

const TARGET_EVENTS = 500;
/** Invoices created at once: enough to keep the stack busy, few enough for two shared cores. */
const BATCH = 10;

/**
 * The event log is the store's, not a process's: `npm start` stopped with Ctrl-C and started again on the same data
 * folders serves the same positions, and a cursor saved before the restart reads on with no event missed or repeated.
 */
describe('GET /v1/events across a restart of npm start', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'payorch-events-restart-'));
  let run: Spawned | undefined;
  let env: Record<string, string>;
  let api: PublicApi;

  beforeAll(async () => {
    const started = await npmStartEnv(dir, {
      // The same principals on both starts: npm start's own development keys are new at every start.
      ...testAccessEnv(),
      GATEWAY_RATE_LIMIT_PER_KEY: '1000000',
      GATEWAY_RATE_LIMIT_PER_ADDRESS: '1000000',
    });
    env = started.env;
    const { sandbox, gateway } = started.ports;
    api = {
      gatewayUrl: `http://127.0.0.1:${gateway}`,
      apiKey: TEST_KEYS.service,
      approverKey: TEST_KEYS.approver,
      tenant: TEST_TENANT,
      sandboxUrl: `http://127.0.0.1:${sandbox}`,
    };
  });

  afterAll(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) await stop(run);
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<Spawned> {
    const started = spawnGroup('npm', ['start', '--silent'], env);
    await started.waitFor(/Press Ctrl-C to stop/, 120_000);
    return started;
  }

  async function stop(running: Spawned): Promise<void> {
    process.kill(-(running.child.pid ?? 0), 'SIGINT');
    await running.exited;
    expect(running.output()).not.toMatch(/stop failed|npm start failed/);
  }

  async function page(after: string, limit: number, type?: string): Promise<EventPage> {
    const query = `after=${after}&limit=${limit}${type ? `&type=${type}` : ''}`;
    return whileUnavailable(async () => {
      const response = await fetch(`${api.gatewayUrl}/v1/events?${query}`, {
        headers: { authorization: `Bearer ${TEST_KEYS.service}` },
      });
      if (response.status !== 200) {
        const tail = run?.output().split('\n').slice(-30).join('\n') ?? '';
        throw new Error(`GET /v1/events?${query}: ${response.status} ${await response.text()}\n${tail}`);
      }
      return (await response.json()) as EventPage;
    }, 30_000);
  }

  /** Reads from `after` to the end of the log, `limit` at a time. */
  async function readOn(after: string, limit: number): Promise<{ events: InvoiceEvent[]; cursor: string }> {
    const events: InvoiceEvent[] = [];
    let cursor = after;
    for (;;) {
      const next = await page(cursor, limit);
      events.push(...next.data);
      cursor = next.next;
      if (!next.hasMore) return { events, cursor };
    }
  }

  const countOf = async (type?: string) => {
    let count = 0;
    let cursor = '0';
    for (;;) {
      const next = await page(cursor, 500, type);
      count += next.data.length;
      cursor = next.next;
      if (!next.hasMore) return count;
    }
  };

  /** Starts invoices that wait for their customer's payment, and waits until each one's events are recorded. */
  async function createWaitingInvoices(count: number, created: string[]): Promise<void> {
    const client = gatewayClient(api);
    const ids = Array.from({ length: count }, (_, index) => `evr_${created.length + index}`);
    await Promise.all(
      ids.map((invoiceId) =>
        whileUnavailable(
          () => client.create(sampleRequest({ invoiceId, provider: 'alfred', direction: 'pay_in' })),
          60_000,
        ),
      ),
    );
    created.push(...ids);
    // An alfred pay-in waits in AWAITING_SETTLEMENT for a payment that never comes: its events stop there.
    await eventually(
      async () => ((await countOf('invoice.awaiting_settlement')) === created.length ? true : undefined),
      90_000,
    );
  }

  it('pages through 500 events with no gap or repeat across a restart', async () => {
    const startedAt = Date.now();
    run = await start();
    const created: string[] = [];
    while ((await countOf()) < TARGET_EVENTS) await createWaitingInvoices(BATCH, created);
    const before = await countOf();
    expect(before).toBeGreaterThanOrEqual(TARGET_EVENTS);

    // Part of the log, in pages whose size does not divide it, and the cursor a consumer would save.
    const partLimit = 67;
    const part: InvoiceEvent[] = [];
    let cursor = '0';
    while (part.length < before / 2) {
      const next = await page(cursor, partLimit);
      part.push(...next.data);
      cursor = next.next;
    }
    expect(cursor).toBe(String(part.length));

    await stop(run);
    run = await start();

    // Written after the restart: the log goes on from where it stood.
    await createWaitingInvoices(1, created);
    const rest = await readOn(cursor, partLimit);
    const whole = await readOn('0', 500);

    const read = [...part, ...rest.events];
    const positions = read.map((event) => event.position);
    expect(positions).toEqual(read.map((_, index) => index + 1));
    expect(new Set(read.map((event) => event.id)).size).toBe(read.length);
    expect(read.map((event) => event.id)).toEqual(whole.events.map((event) => event.id));
    expect(read).toEqual(whole.events);
    expect(whole.events.length).toBeGreaterThan(before);
    // Every invoice's events are numbered 1..n in the tenant's order too.
    for (const invoiceId of created) {
      const own = whole.events.filter((event) => event.invoiceId === invoiceId).map((event) => event.sequence);
      expect(own).toEqual(own.map((_, index) => index + 1));
    }
    process.stdout.write(
      `event log across a restart: ${created.length} invoices, ${before} events before the restart, ` +
        `${part.length} read before it (cursor ${cursor}), ${rest.events.length} after it, ` +
        `${whole.events.length} in one full read, positions 1..${positions.at(-1) ?? 0}, ` +
        `${Math.round((Date.now() - startedAt) / 1000)} s\n`,
    );
  }, 300_000);
});
