import { defaultPayloadConverter } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { gatewayClient, sampleRequest, waitUntil } from '../../src/dev/samples';
import type { InvoiceRequest } from '../../src/domain/invoice';
import accepted from '../../src/providers/xprizo/fixtures/approval-accepted.json';
import { XPRIZO_HELD_APPROVAL_CAP_SECONDS } from '../../src/providers/xprizo/constants';
import type { XprizoSandbox } from '../../src/providers/xprizo/sandbox';
import { payloadCodec } from '../../src/temporal/codec';
import { connectWorker } from '../../src/temporal/connection';
import { createWorker, type InvoiceWorkers } from '../../src/temporal/worker';
import { invoiceWorkflowId, type InvoiceState } from '../../src/workflows/definitions';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { testConfig } from '../support/temporal-env';

/** A token of this stack's own: the sandbox's default URLs (the development token's) are refused by this gateway. */
const TOKEN = `xprizo-e2e-${'k'.repeat(32)}`;
/** Far longer than any test here: an invoice that moves did so on a webhook, never on a status poll. */
const AN_HOUR = '3600';

describe('Xprizo webhooks registered at worker start', () => {
  let stack: TestStack;
  let sandbox: XprizoSandbox;
  let connection: NativeConnection;
  let workers: InvoiceWorkers;
  let running: Promise<void>;

  beforeAll(async () => {
    stack = await startTestStack({
      workers: false,
      env: {
        XPRIZO_WEBHOOK_TOKEN: TOKEN,
        INVOICE_POLL_AFTER_SECONDS: AN_HOUR,
        INVOICE_POLL_INITIAL_INTERVAL_SECONDS: AN_HOUR,
        INVOICE_POLL_MAX_INTERVAL_SECONDS: AN_HOUR,
      },
    });
    sandbox = stack.sandboxes.get<XprizoSandbox>('xprizo').sandbox;
    expect(sandbox.approvalWebhookUrl).toBeUndefined();
    // A worker as a deployment starts one: from configuration that names the gateway's public URL.
    const config = testConfig({ ...stack.childEnv, GATEWAY_PUBLIC_URL: stack.gateway.url });
    const namespace = config.temporal.namespace;
    connection = await connectWorker(config, { address: config.temporal.address ?? '', namespace });
    const logger = stack.env.logger;
    workers = await createWorker({
      config,
      connection,
      namespace,
      activities: createActivities({
        providers: stack.providers,
        logger,
        config,
        store: stack.store,
        temporal: stack.env.temporal,
      }),
      logger,
    });
    running = workers.run();
  });

  afterAll(async () => {
    workers?.shutdown();
    await running;
    await connection?.close();
    await stack?.stop();
  });

  const history = async (state: InvoiceState) =>
    (await stack.env.temporal.workflow.getHandle(invoiceWorkflowId(state.reference ?? '')).fetchHistory()).events ?? [];

  it('registers both webhook URLs, token included, in the query form by default', () => {
    const base = `${stack.gateway.url}/webhooks/xprizo/${TOKEN}`;
    expect(sandbox.approvalWebhookUrl).toBe(`${base}/approval`);
    expect(sandbox.paymentWebhookUrl).toBe(`${base}/payment`);
    expect(sandbox.preferenceCalls.map(({ operation, method, form }) => ({ operation, method, form }))).toEqual([
      { operation: 'SetApprovalWebhook', method: 'PUT', form: 'query' },
      { operation: 'SetPaymentWebhook', method: 'PUT', form: 'query' },
    ]);
  });

  it("seed 002's Accepted sample, reference null, completes the invoice its transaction id names, without a poll", async () => {
    const gateway = gatewayClient(stack.api);
    const ids = [uniqueId('xp_null_ref'), uniqueId('xp_bystander')];
    // Both for the sample's 100.00 USD: only the transaction id can tell them apart.
    for (const invoiceId of ids) {
      await gateway.create(
        sampleRequest({ invoiceId, provider: 'xprizo', direction: 'pay_in', amount: 10000, approvalRequired: false }),
      );
    }
    const [target, bystander] = await Promise.all(
      ids.map((invoiceId) =>
        waitUntil(
          stack.api,
          invoiceId,
          (s) => s.status === 'AWAITING_SETTLEMENT' && s.providerRefs.xprizoTransactionKey !== undefined,
        ),
      ),
    );
    if (!target || !bystander) throw new Error('invoices not started');
    const reference = target.reference ?? '';
    const transactionId = Number(target.providerRefs.xprizoTransactionKey);

    // The customer accepts in their wallet; the sandbox stays silent, and the seed's own sample tells us instead.
    sandbox.acceptRequest(reference, { announce: false });
    const url = sandbox.approvalWebhookUrl ?? '';
    const post = (body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    // Verbatim, its id (1341) is no transaction of ours: refused, and nothing moves.
    const verbatim = await post(accepted);
    expect(verbatim.status).toBe(422);

    const sample = { ...accepted, transaction: { ...accepted.transaction, id: transactionId } };
    expect(sample.transaction.reference).toBeNull();
    const answer = await post(sample);
    expect({ status: answer.status, body: await answer.json() }).toEqual({ status: 200, body: { status: 'success' } });

    const done = await waitUntil(stack.api, ids[0] ?? '', (s) => s.status === 'COMPLETED', 30_000);
    expect(done.transitions.at(-1)).toMatchObject({ status: 'COMPLETED' });
    expect(done.eventsApplied).toBeGreaterThan(0);
    // The other invoice of the same money heard nothing.
    expect((await gateway.get(ids[1] ?? '')).status).toBe('AWAITING_SETTLEMENT');
    // No status poll ran: the only way the invoice learnt of the acceptance was the webhook.
    const activities = (await history(done)).map((event) => event.activityTaskScheduledEventAttributes?.activityType);
    expect(activities.filter((type) => type?.name === 'fetchStatus')).toEqual([]);
    expect(activities.filter((type) => type?.name === 'submit')).toHaveLength(1);
  });

  it("caps a held pay-out's approval deadline below Xprizo's 24 h void and says so in its details", async () => {
    const gateway = gatewayClient(stack.api);
    const invoiceId = uniqueId('xp_cap');
    await gateway.create(
      sampleRequest({
        invoiceId,
        provider: 'xprizo',
        direction: 'pay_out',
        amount: 10000,
        approvalRequired: true,
        approvalTimeoutSeconds: 86400,
      }),
    );
    // The hold's payment callback came through the registered URL: only then does the invoice wait for approval.
    const waiting = await waitUntil(stack.api, invoiceId, (s) => s.status === 'AWAITING_APPROVAL', 30_000);
    const description = await stack.env.temporal.workflow
      .getHandle(invoiceWorkflowId(waiting.reference ?? ''))
      .describe();
    expect(await description.staticDetails()).toContain(
      'approval deadline capped at 22 h (79200 s, asked 86400 s): Xprizo voids a held pay-out 24 h after it is sent',
    );
    // What the workflow was started with, decrypted: the deadline its decision waits for is the cap, not the 24 h asked.
    const [started] = await history(waiting);
    const payloads = started?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    const [input] = (await payloadCodec(stack.env.config).decode(payloads)).map((payload) =>
      defaultPayloadConverter.fromPayload<{ request: InvoiceRequest }>(payload),
    );
    expect(input?.request.approval).toMatchObject({ required: true, timeoutSeconds: XPRIZO_HELD_APPROVAL_CAP_SECONDS });
    await gateway.decide(invoiceId, 'cancel', 'test over');
  });
});
