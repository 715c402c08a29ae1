import type { QueryResultRow } from 'pg';
import { createInvoiceClient, parseInvoiceRequest, type InvoiceClient } from '../../src/client';
import { UNTENANTED } from '../../src/domain/events';
import { PROVIDER_FACTS } from '../../src/providers/facts';
import type { Queryable, Store } from '../../src/store/database';
import {
  approveSignal,
  invoiceWorkflowId,
  providerCallbackUpdate,
  providerEventSignal,
  TASK_QUEUES,
} from '../../src/workflows/definitions';
import { invoiceWorkflow } from '../../src/workflows/invoice-workflow';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { describeEvents, ReplayCheck } from '../support/replay-check';
import { invoiceRequest } from '../support/requests';
import { startTestStore, type TestStore } from '../support/store';
import { FAST_TIMING, startTestEnv, type TestEnv } from '../support/temporal-env';
import { waitForStatus } from '../support/wait';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A query that reaches a worker while the event recorder (a local activity) runs makes the SDK end that workflow task
 * without the recorder's answer, which then comes in the next task, with whatever that task brings: here an Update.
 * Replay hands the workflow the recorder's answer and the Update together; the first run had them one after the
 * other. The invoice must answer the Update and go on in the same order both ways, or its next rebuild stalls.
 */
describe('a local activity answered in a later workflow task than the one that ran it', () => {
  const { registry } = fakeRegistry();
  const gate = { delayMs: 0 };
  let test: TestStore;
  let env: TestEnv;
  let invoices: InvoiceClient;

  beforeAll(async () => {
    test = await startTestStore();
    // Once: the recorder's first statement after the gate is set waits, the rest run at once.
    const slow = async () => {
      const delayMs = gate.delayMs;
      gate.delayMs = 0;
      if (delayMs > 0) await sleep(delayMs);
    };
    // The store as the workers see it: slow on request, so the recorder is still running when the query comes.
    const store: Store = {
      query: async <R extends QueryResultRow>(sql: string, params?: readonly unknown[]) => {
        await slow();
        return test.store.query<R>(sql, params);
      },
      transaction: async <T>(work: (tx: Queryable) => Promise<T>) => {
        await slow();
        return test.store.transaction(work);
      },
      close: () => Promise.resolve(),
    };
    env = await startTestEnv({ providers: registry, store });
    invoices = createInvoiceClient({ client: env.temporal, timing: FAST_TIMING, recordEvents: true });
  });
  afterAll(async () => {
    await env?.stop();
    await test?.close();
  });

  it('replays an Update that came while the recorder ran past its workflow task', async () => {
    const request = parseInvoiceRequest(
      invoiceRequest({
        provider: 'xprizo',
        direction: 'pay_out',
        approval: { required: true, approvers: [], timeoutSeconds: 600 },
      }),
    );
    // Started as the client starts it, with a 2 s workflow task timeout: a local activity that runs past 1.6 s makes
    // the SDK end the task without its answer (a heartbeat) and go on in a new one.
    const handle = await env.temporal.workflow.start(invoiceWorkflow, {
      workflowId: invoiceWorkflowId(request.invoiceId),
      taskQueue: TASK_QUEUES.invoices,
      workflowTaskTimeout: '2 seconds',
      args: [
        {
          request,
          plan: PROVIDER_FACTS.xprizo.plan('pay_out'),
          timing: FAST_TIMING,
          eventLog: { tenant: UNTENANTED, invoiceId: request.invoiceId },
        },
      ],
    });
    await handle.signal(providerEventSignal, fakeEvent(request, 'held', 'approval_requested'));
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_APPROVAL');

    // The approval moves the invoice on to AWAITING_SETTLEMENT, whose wait records the transitions: for 2.6 s. The
    // callback's Update comes while the first task waits for them, so it is handed to the task after the heartbeat,
    // which the recorder's answer reaches later.
    gate.delayMs = 2_600;
    await handle.signal(approveSignal, { by: 'ops@acme' });
    await sleep(600);
    const callback = { ...fakeEvent(request, 'callback-late', 'approval_requested'), waitSeconds: 10 };
    const verdict = await handle.executeUpdate(providerCallbackUpdate, { args: [callback] });
    expect(verdict.verdict).toBe('accept');
    await handle.signal(providerEventSignal, fakeEvent(request, 'released', 'settled'));
    expect((await invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');

    // The shape this test is about: the task that accepted the callback also wrote the recorder's marker, and the task
    // before it (the approval's) ended without one.
    const events = (await handle.fetchHistory()).events ?? [];
    const ends = events.flatMap((e, i) => (e.workflowTaskCompletedEventAttributes ? [i] : []));
    const written = ends.map((end, k) => events.slice(end + 1, ends[k + 1] ?? events.length));
    const accepting = written.findIndex((commands) =>
      commands.some(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'providerCallback',
      ),
    );
    const marks = (commands: typeof events | undefined) =>
      (commands ?? []).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    if (accepting < 1 || !marks(written[accepting]) || marks(written[accepting - 1])) {
      throw new Error(`not the history this test is about:\n${describeEvents(events).join('\n')}`);
    }
    expect(await new ReplayCheck(env.config).check([handle])).toEqual([]);
  });
});
