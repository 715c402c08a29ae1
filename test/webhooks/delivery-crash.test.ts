import path from 'node:path';
import { createLogger } from '../../src/logger';
import { deliveryDispatcher } from '../../src/webhooks/dispatch';
import { TEST_KEYS, TEST_TENANT } from '../support/access';
import { callApi, deliveryLog, recordEvents, verified, type CreatedEndpoint } from '../support/deliveries';
import { spawnGroup, type Spawned } from '../support/processes';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';
import { WebhookReceiver } from '../support/webhook-receiver';

const LIFECYCLE = ['CREATED', 'SUBMITTED', 'AWAITING_SETTLEMENT', 'COMPLETED'];

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
    stack = await startTestStack({
      workers: false,
      env: {
        WEBHOOK_RETRY_INITIAL_SECONDS: '0.2',
        WEBHOOK_RETRY_MAX_INTERVAL_SECONDS: '1',
        WEBHOOK_GIVE_UP_AFTER_SECONDS: '300',
        // A killed worker's attempt is retried once its start-to-close timeout (this plus a margin) has passed.
        WEBHOOK_TIMEOUT_MS: '2000',
      },
    });
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
    const created = await callApi<CreatedEndpoint>(
      stack.gateway.url,
      TEST_KEYS.service,
      'POST',
      '/v1/webhook-endpoints',
      {
        url: receiver.url,
        eventTypes: ['*'],
      },
    );
    expect(created.status).toBe(201);
    const endpoint = created.body;
    const dispatcher = deliveryDispatcher({
      store: stack.store,
      temporal: stack.env.temporal,
      config: stack.env.config,
      logger: createLogger({ level: 'error' }),
    });

    const expected = new Map<string, { invoiceId: string; sequence: number }>();
    const invoiceIds = Array.from({ length: 20 }, () => uniqueId('crash'));
    for (const invoiceId of invoiceIds) {
      const events = await recordEvents(stack.store, TEST_TENANT, invoiceId, LIFECYCLE);
      await dispatcher.dispatch(events);
      for (const event of events) expected.set(event.id, { invoiceId, sequence: event.sequence });
    }

    await eventually(() => log.accepted().length >= 20 || undefined, 60_000);
    process.kill(-(first.child.pid ?? 0), 'SIGKILL');
    await first.exited;
    const beforeRestart = log.distinctAccepted().size;
    expect(beforeRestart).toBeLessThan(expected.size);

    await startWorker();
    await eventually(() => log.distinctAccepted().size === expected.size || undefined, 90_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const accepted = log.accepted();
    // Nothing lost, nothing unknown; a repeat is always of an event already received (the same id).
    expect([...log.distinctAccepted()].sort()).toEqual([...expected.keys()].sort());
    for (const delivery of accepted) {
      const event = verified(delivery.hook, [endpoint.secret]);
      expect(event.id).toBe(delivery.eventId);
      expect(expected.get(event.id)?.sequence).toBe(event.sequence);
    }
    const repeats = accepted.length - expected.size;
    // At most the attempts the killed worker had in flight (one per invoice's delivery workflow) come again.
    expect(repeats).toBeLessThanOrEqual(invoiceIds.length);
    // Per invoice, the first arrival of each event is in sequence order.
    for (const invoiceId of invoiceIds) {
      const firstArrivals: number[] = [];
      for (const delivery of accepted) {
        const known = expected.get(delivery.eventId);
        if (known?.invoiceId === invoiceId && !firstArrivals.includes(known.sequence)) {
          firstArrivals.push(known.sequence);
        }
      }
      expect(firstArrivals).toEqual([1, 2, 3, 4]);
    }
    const statuses = await stack.store.query<{ status: string; count: string }>(
      'SELECT status, count(*) AS count FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status',
      [endpoint.id],
    );
    expect(statuses.map((row) => [row.status, Number(row.count)])).toEqual([['delivered', expected.size]]);
  });
});
