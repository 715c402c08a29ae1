import { WorkflowNotFoundError } from '@temporalio/client';
import { createLogger } from '../../src/logger';
import { deliveryDispatcher } from '../../src/webhooks/dispatch';
import { WebhookSignatureError } from '../../src/webhooks/signature';
import { deliveryPolicy } from '../../src/webhooks/deliveries';
import {
  deliveryWorkflowId,
  eventsRecordedSignal,
  type DeliveryWorkflowInput,
} from '../../src/workflows/delivery-definitions';
import { webhookDeliveryWorkflow } from '../../src/workflows/delivery-workflow';
import { TASK_QUEUES } from '../../src/workflows/definitions';
import { TEST_KEYS, TEST_TENANT } from '../support/access';
import { callApi, deliveryLog, recordEvents, verified, type CreatedEndpoint } from '../support/deliveries';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { testConfig } from '../support/temporal-env';
import { eventually } from '../support/wait';
import { WebhookReceiver } from '../support/webhook-receiver';

/** Retries in fractions of a second rather than minutes; a give-up long enough never to be reached by accident. */
const WEBHOOK_ENV = {
  WEBHOOK_RETRY_INITIAL_SECONDS: '0.2',
  WEBHOOK_RETRY_MAX_INTERVAL_SECONDS: '1',
  WEBHOOK_GIVE_UP_AFTER_SECONDS: '120',
  WEBHOOK_TIMEOUT_MS: '2000',
};
const LIFECYCLE = ['CREATED', 'SUBMITTED', 'AWAITING_SETTLEMENT', 'COMPLETED'];

describe('outgoing webhooks', () => {
  let stack: TestStack;
  const receivers: WebhookReceiver[] = [];
  const logger = createLogger({ level: 'error' });

  async function receiver(): Promise<WebhookReceiver> {
    const started = new WebhookReceiver();
    await started.start();
    receivers.push(started);
    return started;
  }
  const api = <T>(method: string, path: string, body?: unknown, key: string = TEST_KEYS.service) =>
    callApi<T>(stack.gateway.url, key, method, path, body);
  async function register(url: string, eventTypes = ['*']): Promise<CreatedEndpoint> {
    const created = await api<CreatedEndpoint>('POST', '/v1/webhook-endpoints', { url, eventTypes });
    expect(created.status).toBe(201);
    return created.body;
  }
  const dispatcher = (env: Record<string, string> = {}) =>
    deliveryDispatcher({
      store: stack.store,
      temporal: stack.env.temporal,
      config: testConfig({ ...stack.childEnv, ...env }),
      logger,
    });

  beforeAll(async () => {
    stack = await startTestStack({ env: WEBHOOK_ENV });
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await stack?.stop();
  });

  it('delivers every event of 20 invoices exactly once after the endpoint recovers, in order, each signed', async () => {
    const endpointReceiver = await receiver();
    const log = deliveryLog(endpointReceiver, { failFirst: 5 });
    const endpoint = await register(endpointReceiver.url);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{40,}$/);

    const invoiceIds = Array.from({ length: 20 }, () => uniqueId('wh'));
    const expected = new Map<string, number>();
    await Promise.all(
      invoiceIds.map(async (invoiceId) => {
        // In two batches, as an invoice records them: the dispatcher is called once per recorded batch.
        const first = await recordEvents(stack.store, TEST_TENANT, invoiceId, LIFECYCLE.slice(0, 2));
        await dispatcher().dispatch(first);
        // A retried recording activity dispatches the same batch again: nothing more may arrive.
        await dispatcher().dispatch(first);
        const second = await recordEvents(stack.store, TEST_TENANT, invoiceId, LIFECYCLE.slice(2), 3);
        await dispatcher().dispatch(second);
        for (const event of [...first, ...second]) expected.set(event.id, event.sequence);
      }),
    );

    await eventually(() => log.distinctAccepted().size === expected.size || undefined, 90_000);
    // Anything still on its way would show up as a duplicate.
    await new Promise((resolve) => setTimeout(resolve, 1500));

    expect(log.deliveries.slice(0, 5).map((d) => d.status)).toEqual([500, 500, 500, 500, 500]);
    const accepted = log.accepted();
    expect(accepted.map((d) => d.eventId).sort()).toEqual([...expected.keys()].sort());
    for (const delivery of accepted) {
      const event = verified(delivery.hook, [endpoint.secret]);
      expect(event.id).toBe(delivery.eventId);
      expect(delivery.hook.headers['payorch-event-type']).toBe(event.type);
      expect(event.sequence).toBe(expected.get(event.id));
    }
    for (const invoiceId of invoiceIds) {
      const sequences = accepted
        .map((d) => verified(d.hook, [endpoint.secret]))
        .filter((event) => event.invoiceId === invoiceId)
        .map((event) => event.sequence);
      expect(sequences).toEqual([1, 2, 3, 4]);
    }

    // Every attempt is visible, the refused ones with their status code.
    const attempts = await api<{ data: { id: string; eventId: string; statusCode?: number; ok: boolean }[] }>(
      'GET',
      `/v1/webhook-endpoints/${endpoint.id}/attempts?limit=500`,
    );
    expect(attempts.status).toBe(200);
    expect(attempts.body.data.filter((a) => !a.ok).map((a) => a.statusCode)).toEqual([500, 500, 500, 500, 500]);
    expect(attempts.body.data.filter((a) => a.ok)).toHaveLength(expected.size);
    const page = await api<{ data: { id: string }[]; next?: string }>(
      'GET',
      `/v1/webhook-endpoints/${endpoint.id}/attempts?limit=2`,
    );
    expect(page.body.data).toHaveLength(2);
    const after = await api<{ data: { id: string }[] }>(
      'GET',
      `/v1/webhook-endpoints/${endpoint.id}/attempts?limit=2&after=${page.body.next ?? ''}`,
    );
    expect(after.body.data[0]?.id).toBe(attempts.body.data[2]?.id);

    // Each invoice's delivery workflow ended with its last event.
    const handle = stack.env.temporal.workflow.getHandle(
      deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${invoiceIds[0] ?? ''}`),
    );
    await expect(handle.result()).resolves.toEqual({ delivered: 4, failed: 0, ended: 'invoice_ended' });
    // The endpoint is no longer disabled nor failing; the store keeps the secret sealed.
    const secrets = await stack.store.query<{ ciphertext: string }>(
      'SELECT ciphertext FROM webhook_secrets WHERE endpoint_id = $1',
      [endpoint.id],
    );
    expect(secrets).toHaveLength(1);
    expect(secrets[0]?.ciphertext).not.toContain(endpoint.secret.slice(6));
  });

  it('keeps deliveries verifiable with either secret during a rotation, and with the new one after', async () => {
    const endpointReceiver = await receiver();
    const log = deliveryLog(endpointReceiver);
    const endpoint = await register(endpointReceiver.url);
    const rotated = await api<{ secret: string }>('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
      expireCurrentInSeconds: 3600,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(endpoint.secret);

    const invoiceId = uniqueId('wh');
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, invoiceId, ['CREATED']));
    await eventually(() => log.accepted()[0], 30_000);
    const [during] = log.accepted();
    if (!during) throw new Error('no delivery');
    expect(verified(during.hook, [endpoint.secret]).id).toBe(during.eventId);
    expect(verified(during.hook, [rotated.body.secret]).id).toBe(during.eventId);

    // The old secret expired at once: the next delivery verifies with the newest only.
    const again = await api<{ secret: string }>('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
      expireCurrentInSeconds: 0,
    });
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, invoiceId, ['SUBMITTED'], 2));
    await eventually(() => log.accepted()[1], 30_000);
    const [, after] = log.accepted();
    if (!after) throw new Error('no second delivery');
    expect(verified(after.hook, [again.body.secret]).sequence).toBe(2);
    expect(() => verified(after.hook, [endpoint.secret, rotated.body.secret])).toThrow(WebhookSignatureError);
  });

  it('stops the deliveries of a disabled endpoint, and sends none to it or to a deleted one', async () => {
    const endpointReceiver = await receiver();
    const log = deliveryLog(endpointReceiver);
    log.refuseWhen(() => true);
    const endpoint = await register(endpointReceiver.url, ['invoice.created']);
    const invoiceId = uniqueId('wh');
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, invoiceId, ['CREATED']));
    await eventually(() => log.deliveries.length >= 2 || undefined, 30_000);

    const disabled = await api<{ status: string }>('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, {
      status: 'disabled',
    });
    expect(disabled.body.status).toBe('disabled');
    const handle = stack.env.temporal.workflow.getHandle(
      deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${invoiceId}`),
    );
    await expect(handle.result()).resolves.toMatchObject({ delivered: 0, ended: 'endpoint_disabled' });
    const [delivery] = await stack.store.query<{ status: string }>(
      'SELECT status FROM webhook_deliveries WHERE endpoint_id = $1',
      [endpoint.id],
    );
    expect(delivery?.status).toBe('cancelled');
    const seen = log.deliveries.length;

    // Disabled: the next event is not even dispatched to it.
    const other = uniqueId('wh');
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, other, ['CREATED']));
    await expect(
      stack.env.temporal.workflow.getHandle(deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${other}`)).describe(),
    ).rejects.toThrow(WorkflowNotFoundError);

    expect((await api('DELETE', `/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(204);
    expect((await api('GET', `/v1/webhook-endpoints/${endpoint.id}`)).status).toBe(404);
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, uniqueId('wh'), ['CREATED']));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(log.deliveries).toHaveLength(seen);
  });

  it('gives up after the give-up time: the delivery failed, the endpoint failing, the next event goes on', async () => {
    const endpointReceiver = await receiver();
    const log = deliveryLog(endpointReceiver);
    const endpoint = await register(endpointReceiver.url);
    const invoiceId = uniqueId('wh');
    const [created, completed] = await recordEvents(stack.store, TEST_TENANT, invoiceId, ['CREATED', 'COMPLETED']);
    if (!created || !completed) throw new Error('no events');
    log.refuseWhen((hook) => hook.headers['payorch-event-id'] === created.id);
    const quick = dispatcher({ WEBHOOK_GIVE_UP_AFTER_SECONDS: '2' });
    await quick.dispatch([created]);

    await eventually(async () => {
      const answer = await api<{ status: string; failingSince?: string }>(
        'GET',
        `/v1/webhook-endpoints/${endpoint.id}`,
      );
      return answer.body.status === 'failing' ? answer.body : undefined;
    }, 30_000);
    const [failed] = await stack.store.query<{ status: string; attempts: number }>(
      'SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2',
      [endpoint.id, created.id],
    );
    expect(failed?.status).toBe('failed');
    expect(failed?.attempts).toBeGreaterThan(1);

    // The invoice's next event is still delivered; a success means the receiver is back.
    await quick.dispatch([completed]);
    const handle = stack.env.temporal.workflow.getHandle(
      deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${invoiceId}`),
    );
    await expect(handle.result()).resolves.toEqual({ delivered: 1, failed: 1, ended: 'invoice_ended' });
    expect(log.accepted().map((d) => verified(d.hook, [endpoint.secret]).sequence)).toEqual([2]);
    const recovered = await api<{ status: string; failingSince?: string }>(
      'GET',
      `/v1/webhook-endpoints/${endpoint.id}`,
    );
    expect(recovered.body).toMatchObject({ status: 'enabled' });
    expect(recovered.body).not.toHaveProperty('failingSince');
  });

  it('continues as new when its history grows, losing no event and keeping the order', async () => {
    const endpointReceiver = await receiver();
    const log = deliveryLog(endpointReceiver);
    const endpoint = await register(endpointReceiver.url);
    const invoiceId = uniqueId('wh');
    const statuses = Array.from({ length: 14 }, () => 'SUBMITTED');
    const events = await recordEvents(stack.store, TEST_TENANT, invoiceId, [...statuses, 'COMPLETED']);
    const workflowId = deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${invoiceId}`);
    const input: DeliveryWorkflowInput = {
      endpointId: endpoint.id,
      tenant: TEST_TENANT,
      invoiceId,
      policy: deliveryPolicy(stack.env.config),
      historyBudgetEvents: 30,
    };
    // Started as the dispatcher starts it, with a small history budget; the events come in three signals.
    const batches = [events.slice(0, 5), events.slice(5, 10), events.slice(10)];
    const signalledRuns: string[] = [];
    for (const [index, batch] of batches.entries()) {
      const signalled = await stack.env.temporal.workflow.signalWithStart(webhookDeliveryWorkflow, {
        workflowId,
        taskQueue: TASK_QUEUES.invoices,
        args: [input],
        signal: eventsRecordedSignal,
        signalArgs: [{ events: batch.map(({ id, sequence }) => ({ id, sequence })), invoiceEnded: index === 2 }],
      });
      signalledRuns.push(signalled.signaledRunId);
    }
    const handle = stack.env.temporal.workflow.getHandle(workflowId);
    await expect(handle.result()).resolves.toEqual({ delivered: 15, failed: 0, ended: 'invoice_ended' });
    expect(log.accepted().map((d) => verified(d.hook, [endpoint.secret]).sequence)).toEqual(
      events.map((event) => event.sequence),
    );
    const firstRun = await stack.env.temporal.workflow.getHandle(workflowId, signalledRuns[0]).describe();
    expect(firstRun.status.name).toBe('CONTINUED_AS_NEW');
  });

  it('a batch dispatched again after its workflow ended starts a new run that sends nothing twice', async () => {
    const endpointReceiver = await receiver();
    const log = deliveryLog(endpointReceiver);
    const endpoint = await register(endpointReceiver.url);
    const invoiceId = uniqueId('wh');
    const events = await recordEvents(stack.store, TEST_TENANT, invoiceId, ['CREATED', 'COMPLETED']);
    const workflowId = deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${invoiceId}`);
    await dispatcher().dispatch(events);
    const firstRun = stack.env.temporal.workflow.getHandle(workflowId);
    await expect(firstRun.result()).resolves.toEqual({ delivered: 2, failed: 0, ended: 'invoice_ended' });
    const firstRunId = (await firstRun.describe()).runId;

    // The recorder's activity retried after the deliveries were done (its first attempt's result was lost).
    await dispatcher().dispatch(events);
    const secondRun = stack.env.temporal.workflow.getHandle(workflowId);
    await eventually(async () => ((await secondRun.describe()).runId !== firstRunId ? true : undefined), 10_000);
    await expect(secondRun.result()).resolves.toEqual({ delivered: 0, failed: 0, ended: 'invoice_ended' });
    expect(log.deliveries.map((delivery) => delivery.eventId)).toEqual(events.map((event) => event.id));
  });

  it("ends an endpoint's workflow when the invoice ends with an event the endpoint does not subscribe to", async () => {
    const endpointReceiver = await receiver();
    const log = deliveryLog(endpointReceiver);
    const endpoint = await register(endpointReceiver.url, ['invoice.created']);
    const invoiceId = uniqueId('wh');
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, invoiceId, ['CREATED']));
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, invoiceId, ['COMPLETED'], 2));
    const handle = stack.env.temporal.workflow.getHandle(
      deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${invoiceId}`),
    );
    await expect(handle.result()).resolves.toEqual({ delivered: 1, failed: 0, ended: 'invoice_ended' });
    expect(log.accepted().map((delivery) => verified(delivery.hook, [endpoint.secret]).type)).toEqual([
      'invoice.created',
    ]);
    // An invoice that ends with no workflow of this endpoint running starts none.
    const other = uniqueId('wh');
    await dispatcher().dispatch(await recordEvents(stack.store, TEST_TENANT, other, ['SUBMITTED', 'FAILED']));
    await expect(
      stack.env.temporal.workflow.getHandle(deliveryWorkflowId(endpoint.id, `${TEST_TENANT}_${other}`)).describe(),
    ).rejects.toThrow(WorkflowNotFoundError);
  });

  it('manages endpoints per tenant, validates them, and never shows a secret twice', async () => {
    expect((await api('POST', '/v1/webhook-endpoints', { url: 'ftp://x.example/', eventTypes: ['*'] })).status).toBe(
      400,
    );
    expect((await api('POST', '/v1/webhook-endpoints', { url: 'https://x.example/', eventTypes: [] })).status).toBe(
      400,
    );
    const misspelt = await api<{ type: string; errors: { path: string }[] }>('POST', '/v1/webhook-endpoints', {
      url: 'https://x.example/',
      eventTypes: ['invoice.completed', 'invoice.complete'],
    });
    expect(misspelt).toMatchObject({
      status: 400,
      body: { type: 'ValidationError', errors: [{ path: 'eventTypes.1' }] },
    });
    const forbidden = await api<{ type: string }>(
      'POST',
      '/v1/webhook-endpoints',
      { url: 'https://x.example/', eventTypes: ['*'] },
      TEST_KEYS.reader,
    );
    expect(forbidden).toMatchObject({ status: 403, body: { type: 'Forbidden' } });

    const endpoint = await register('https://hooks.example/payorch', ['invoice.completed', 'invoice.completed']);
    expect(endpoint.eventTypes).toEqual(['invoice.completed']);
    const fetched = await api<Record<string, unknown>>('GET', `/v1/webhook-endpoints/${endpoint.id}`);
    expect(fetched.body).toMatchObject({ id: endpoint.id, url: 'https://hooks.example/payorch', status: 'enabled' });
    expect(fetched.body).not.toHaveProperty('secret');
    const listed = await api<{ data: { id: string }[] }>('GET', '/v1/webhook-endpoints');
    expect(listed.body.data.map((e) => e.id)).toContain(endpoint.id);
    expect(JSON.stringify(listed.body)).not.toContain(endpoint.secret);

    const theirs = await api<{ type: string }>(
      'GET',
      `/v1/webhook-endpoints/${endpoint.id}`,
      undefined,
      TEST_KEYS.otherTenant,
    );
    expect(theirs).toMatchObject({ status: 404, body: { type: 'WebhookEndpointNotFound' } });
    for (const [method, path, body] of [
      ['PATCH', '', { status: 'disabled' }],
      ['DELETE', '', undefined],
      ['POST', '/rotate-secret', {}],
      ['GET', '/attempts', undefined],
    ] as const) {
      const answer = await api(method, `/v1/webhook-endpoints/${endpoint.id}${path}`, body, TEST_KEYS.otherTenant);
      expect(answer.status).toBe(404);
    }
    const others = await api<{ data: unknown[] }>('GET', '/v1/webhook-endpoints', undefined, TEST_KEYS.otherTenant);
    expect(others.body.data).toEqual([]);

    // A rotation without a body keeps the current secret for a day beside the new one.
    const rotated = await api<{ secret: string }>('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    const expiries = await stack.store.query<{ expires_at: Date | null }>(
      'SELECT expires_at FROM webhook_secrets WHERE endpoint_id = $1 ORDER BY created_at',
      [endpoint.id],
    );
    expect(expiries).toHaveLength(2);
    const inADay = (expiries[0]?.expires_at?.getTime() ?? 0) - Date.now();
    expect(inADay).toBeGreaterThan(86_000_000);
    expect(inADay).toBeLessThanOrEqual(86_400_000);
    expect(expiries[1]?.expires_at).toBeNull();
    const patched = await api<{ eventTypes: string[]; url: string }>('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, {
      eventTypes: ['invoice.failed', '*'],
      url: 'http://hooks.example/v2',
    });
    expect(patched.body).toMatchObject({ eventTypes: ['*'], url: 'http://hooks.example/v2' });
  });
});
