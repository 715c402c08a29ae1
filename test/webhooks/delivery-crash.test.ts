import path from 'node:path';
import { TEST_TENANT } from '../support/access';
import { deliveryLog, driveInvoices, FAST_DELIVERY_ENV, registerEndpoint, verified } from '../support/deliveries';
import { loggedEvents } from '../support/invoice-events';
import { spawnGroup, type Spawned } from '../support/processes';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';
import { WebhookReceiver } from '../support/webhook-receiver';

describe('a worker killed -9 in the middle of webhook deliveries', () => {
  let stack: TestStack;
  const workers: Spawned[] = [];
  const receiver = new WebhookReceiver();

  async function startWorker(): Promise<Spawned> {
    const worker = spawnGroup(path.join('node_modules', '.bin', 'tsx'), ['test/support/worker-process.ts'], {
      STACK_ENV: JSON.stringify(stack.childEnv),
      WORKER_PROVIDERS: 'sandboxes',
      JEST_WORKER_ID: process.env.JEST_WORKER_ID ?? '1',
    });
    workers.push(worker);
    await worker.waitFor(/worker ready/, 60_000);
    return worker;
  }

  beforeAll(async () => {
    await receiver.start();
    stack = await startTestStack({ workers: false, env: FAST_DELIVERY_ENV });
  });
  afterAll(async () => {
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        process.kill(-(worker.child.pid ?? 0), 'SIGKILL');
      }
    }
    await receiver.stop();
    await stack?.stop();
  });

  it('loses no event and repeats only what the event id lets the receiver drop', async () => {
    const first = await startWorker();
    // Slow answers keep deliveries in flight when the worker dies: some sent, not yet recorded as delivered.
    const log = deliveryLog(receiver, { delayMs: 150 });
    const created = await registerEndpoint(stack.gateway.url, receiver.url);
    expect(created.status).toBe(201);
    const endpoint = created.body;

    const { invoiceIds, finals: driven } = driveInvoices(stack.api, 'crash', 20, 150_000);
    await eventually(() => log.accepted().length >= 20 || undefined, 60_000);
    process.kill(-(first.child.pid ?? 0), 'SIGKILL');
    await first.exited;
    const beforeRestart = log.distinctAccepted().size;

    await startWorker();
    const finals = await driven;
    expect(finals.map((state) => state.status)).toEqual(invoiceIds.map(() => 'COMPLETED'));
    const events = await loggedEvents(stack.store, TEST_TENANT, invoiceIds);
    expect(beforeRestart).toBeLessThan(events.length);
    await eventually(() => log.distinctAccepted().size === events.length || undefined, 90_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const accepted = log.accepted();
    const expected = new Map(events.map((event) => [event.id, event]));
    // Nothing lost, nothing unknown; a repeat is always of an event already received (the same id).
    expect([...log.distinctAccepted()].sort()).toEqual([...expected.keys()].sort());
    for (const delivery of accepted) {
      const event = verified(delivery.hook, [endpoint.secret]);
      expect(event.id).toBe(delivery.eventId);
      expect(expected.get(event.id)?.sequence).toBe(event.sequence);
    }
    // At most the attempts the killed worker had in flight (one per invoice's delivery workflow) come again.
    expect(accepted.length - expected.size).toBeLessThanOrEqual(invoiceIds.length);
    // Per invoice, the first arrival of each event is in sequence order.
    for (const invoiceId of invoiceIds) {
      const firstArrivals: number[] = [];
      for (const delivery of accepted) {
        const known = expected.get(delivery.eventId);
        if (known?.invoiceId === invoiceId && !firstArrivals.includes(known.sequence)) {
          firstArrivals.push(known.sequence);
        }
      }
      const logged = events.filter((event) => event.invoiceId === invoiceId).map((event) => event.sequence);
      expect([invoiceId, firstArrivals]).toEqual([invoiceId, logged]);
    }
    const statuses = await stack.store.query<{ status: string; count: string }>(
      'SELECT status, count(*) AS count FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status',
      [endpoint.id],
    );
    expect(statuses.map((row) => [row.status, Number(row.count)])).toEqual([['delivered', expected.size]]);
  }, 300_000);
});
