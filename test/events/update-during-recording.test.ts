import { createInvoiceClient, parseInvoiceRequest, type InvoiceClient } from '../../src/client';
import { UNTENANTED } from '../../src/domain/events';
import { PROVIDER_FACTS } from '../../src/providers/facts';
import {
  approveSignal,
  invoiceWorkflowId,
  providerCallbackUpdate,
  providerEventSignal,
  TASK_QUEUES,
} from '../../src/workflows/definitions';
import { invoiceWorkflow } from '../../src/workflows/invoice-workflow';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { describeEvents, unreplayable } from '../support/replay-check';
import { invoiceRequest } from '../support/requests';
import { interceptedStore, startTestStore, type TestStore } from '../support/store';
import { FAST_TIMING, startTestEnv, type TestEnv } from '../support/temporal-env';
import { waitForStatus } from '../support/wait';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The history that stalled invoices of the release before (patch event-fold-1): the event recorder, then a local
 * activity, outlasted its workflow task (here past the heartbeat of a 2 s task timeout), so the SDK ended the task
 * without its answer and handed the answer to a later task together with that task's Update. Replay handed both over at
 * once, the first run one after the other, and the invoice's next command (an upsert) came before the Update's answer
 * on replay. Since replay-safe-1 the recorder and the setup steps are ordinary activities: the same moves write a
 * history with no local activity in it, and it replays.
 */
describe('an Update that comes while the recorder outlasts its workflow task', () => {
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
    // Slow on request, so the recorder is still running when the query comes.
    const store = interceptedStore(test.store, slow);
    env = await startTestEnv({ providers: registry, store });
    invoices = createInvoiceClient({ client: env.temporal, timing: FAST_TIMING, recordEvents: true });
  });
  afterAll(async () => {
    await env?.stop();
    await test?.close();
  });

  it('leaves a history with no local activity, which replays', async () => {
    const request = parseInvoiceRequest(
      invoiceRequest({
        provider: 'xprizo',
        direction: 'pay_out',
        approval: { required: true, approvers: [], timeoutSeconds: 600 },
      }),
    );
    // Started as the client starts it, with a 2 s workflow task timeout: a local activity that ran past 1.6 s made the
    // SDK end the task without its answer (a heartbeat) and go on in a new one.
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
    // callback's Update comes meanwhile; as a local activity, the recorder's answer reached the task after it.
    gate.delayMs = 2_600;
    await handle.signal(approveSignal, { by: 'ops@acme' });
    await sleep(600);
    const callback = { ...fakeEvent(request, 'callback-late', 'approval_requested'), waitSeconds: 10 };
    const verdict = await handle.executeUpdate(providerCallbackUpdate, { args: [callback] });
    expect(verdict.verdict).toBe('accept');
    await handle.signal(providerEventSignal, fakeEvent(request, 'released', 'settled'));
    expect((await invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');

    const events = (await handle.fetchHistory()).events ?? [];
    const local = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    const recorded = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordInvoiceEvents',
    );
    if (local.length > 0 || recorded.length === 0) {
      throw new Error(`local activities in the history, or no recorder:\n${describeEvents(events).join('\n')}`);
    }
    expect(await unreplayable(env.config, [handle])).toEqual([]);
  });
});
