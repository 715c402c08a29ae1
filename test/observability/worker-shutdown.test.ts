import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { gatewayClient, sampleRequest } from '../../src/dev/samples';
import { freePort } from '../../src/temporal/dev-server';
import type { WorkerHealth } from '../../src/temporal/worker-health';
import { invoiceWorkflowId } from '../../src/workflows/definitions';
import { TEST_TENANT } from '../support/access';
import { spawnGroup } from '../support/processes';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';

/** Every PayOne answer takes this long, so its submission is surely in flight when the worker is told to stop. */
const PAYONE_LATENCY_MS = 3_000;

describe('worker shutdown: SIGTERM lets the provider call in flight finish', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ workers: false, faults: { payone: { latencyMs: PAYONE_LATENCY_MS } } });
  });
  afterAll(async () => stack?.stop());

  it('answers 503 while draining, completes the submission at its first attempt, then exits', async () => {
    const healthPort = await freePort();
    const worker = spawnGroup(path.join('node_modules', '.bin', 'tsx'), ['test/support/worker-process.ts'], {
      STACK_ENV: JSON.stringify({
        ...stack.childEnv,
        WORKER_HEALTH_PORT: String(healthPort),
        WORKER_SHUTDOWN_GRACE_MS: '30000',
      }),
      WORKER_PROVIDERS: 'sandboxes',
      JEST_WORKER_ID: process.env.JEST_WORKER_ID ?? '1',
    });
    await worker.waitFor(/worker ready/, 60_000);
    const invoiceId = uniqueId('sd');
    await gatewayClient(stack.api).create(sampleRequest({ invoiceId, provider: 'payone', direction: 'pay_in' }));
    const handle = stack.env.temporal.workflow.getHandle(invoiceWorkflowId(`${TEST_TENANT}_${invoiceId}`));
    await eventually(async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.some(
        (activity) =>
          activity.activityType?.name === 'submit' &&
          activity.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
      );
    });

    process.kill(-(worker.child.pid ?? 0), 'SIGTERM');
    const draining = await eventually(async () => {
      const response = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
      return response.status === 503 ? ((await response.json()) as WorkerHealth) : undefined;
    });
    expect(draining.status).toBe('unavailable');
    expect(draining.workers.some((w) => w.state !== 'RUNNING')).toBe(true);
    // tsx, which runs the worker, answers SIGTERM with its conventional 143 once the worker inside has drained. With WORKER_SHUTDOWN_GRACE_MS=0 the submission is cut short and this test fails.
    await worker.exited;

    const events = (await handle.fetchHistory()).events ?? [];
    const submit = events.find((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'submit');
    const outcome = events.find((event) => {
      const attributes =
        event.activityTaskCompletedEventAttributes ??
        event.activityTaskFailedEventAttributes ??
        event.activityTaskTimedOutEventAttributes ??
        event.activityTaskCanceledEventAttributes;
      return attributes?.scheduledEventId?.toString() === submit?.eventId?.toString();
    });
    // A failure says what happened to the submission instead: the history, the worker's exit and its last words.
    if (!outcome?.activityTaskCompletedEventAttributes) {
      const seen = {
        history: events.map((event) => event.eventType),
        exit: [worker.child.exitCode, worker.child.signalCode],
        output: worker.output().slice(-3000),
      };
      throw new Error(`the submission did not complete: ${JSON.stringify(seen, null, 2)}`);
    }
    const started = events.find(
      (event) => event.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === submit?.eventId?.toString(),
    );
    expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);
  });
});
