import { verifyWebhook, WebhookSignatureError } from '../../src/client';
import { driveSample } from '../../src/dev/samples';
import { listAttempts } from '../../src/webhooks/deliveries';
import { TEST_KEYS, TEST_TENANT } from '../support/access';
import {
  callApi,
  deliveryLog,
  driveInvoices,
  FAST_DELIVERY_ENV,
  registerEndpoint,
  verified,
} from '../support/deliveries';
import { loggedEvents } from '../support/invoice-events';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * The must-show of the outgoing webhooks, end to end: real invoices through the gateway and the provider sandboxes
 * record their events, the log hands them to the deliveries, and an endpoint that fails at first gets every one.
 */
describe('webhook deliveries of real invoices', () => {
  let stack: TestStack;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    await receiver.start();
    stack = await startTestStack({ env: FAST_DELIVERY_ENV });
  });
  afterAll(async () => {
    await receiver.stop();
    await stack?.stop();
  });

  it('an endpoint that answers 500 five times then gets every event of 20 invoices once, in order, signed', async () => {
    const log = deliveryLog(receiver, { failFirst: 5 });
    const created = await registerEndpoint(stack.gateway.url, receiver.url);
    expect(created.status).toBe(201);
    const endpoint = created.body;

    const { invoiceIds, finals: driven } = driveInvoices(stack.api, 'whe', 20, 90_000);
    const finals = await driven;
    expect(finals.map((state) => state.status)).toEqual(invoiceIds.map(() => 'COMPLETED'));
    const events = await loggedEvents(stack.store, TEST_TENANT, invoiceIds);
    expect(events.length).toBeGreaterThanOrEqual(invoiceIds.length * 3);

    await eventually(() => log.distinctAccepted().size === events.length || undefined, 90_000);
    // Whatever is still on its way would show as a repeat.
    await new Promise((resolve) => setTimeout(resolve, 1500));

    expect(log.deliveries.slice(0, 5).map((delivery) => delivery.status)).toEqual([500, 500, 500, 500, 500]);
    const accepted = log.accepted();
    // A repeat is what a 2xx the sender did not see looks like: the endpoint's recorded attempts of it say why.
    const repeated = log.repeatedAccepted();
    const attempts = await listAttempts(stack.store, endpoint.id, { limit: 1000 });
    expect({ repeated, attempts: attempts.filter((attempt) => repeated.includes(attempt.eventId)) }).toEqual({
      repeated: [],
      attempts: [],
    });
    // Exactly once: as many accepted deliveries as events, and each event among them.
    expect(accepted.map((delivery) => delivery.eventId).sort()).toEqual(events.map((event) => event.id).sort());
    const received = accepted.map((delivery) => {
      const event = verified(delivery.hook, [endpoint.secret]);
      expect(event.id).toBe(delivery.eventId);
      expect(delivery.hook.headers['payorch-event-type']).toBe(event.type);
      return event;
    });
    for (const invoiceId of invoiceIds) {
      const sequences = received.filter((event) => event.invoiceId === invoiceId).map((event) => event.sequence);
      const logged = events.filter((event) => event.invoiceId === invoiceId).map((event) => event.sequence);
      expect([invoiceId, sequences]).toEqual([invoiceId, logged]);
    }
    const last = received.filter((event) => event.invoiceId === invoiceIds[0]).at(-1);
    expect(last).toMatchObject({ type: 'invoice.completed', data: { invoice: { status: 'COMPLETED' } } });
  });

  it("rotation: a real invoice's deliveries verify with either secret; the verifier refuses tampering, a wrong secret, a stale time", async () => {
    const rotating = new WebhookReceiver();
    await rotating.start();
    try {
      const log = deliveryLog(rotating);
      const created = await registerEndpoint(stack.gateway.url, rotating.url);
      const old = created.body.secret;
      const rotated = await callApi<{ secret: string }>(
        stack.gateway.url,
        TEST_KEYS.service,
        'POST',
        `/v1/webhook-endpoints/${created.body.id}/rotate-secret`,
        { expireCurrentInSeconds: 3600 },
      );
      const current = rotated.body.secret;

      const invoiceId = uniqueId('whrot');
      await driveSample(stack.api, { invoiceId, provider: 'alfred', direction: 'pay_in' }, 90_000);
      const events = await loggedEvents(stack.store, TEST_TENANT, [invoiceId]);
      await eventually(() => log.distinctAccepted().size === events.length || undefined, 60_000);

      for (const delivery of log.accepted()) {
        const header = String(delivery.hook.headers['payorch-signature']);
        expect(header.match(/v1=/g)).toHaveLength(2);
        expect(verified(delivery.hook, [old]).id).toBe(delivery.eventId);
        expect(verified(delivery.hook, [current]).id).toBe(delivery.eventId);
      }
      const [sample] = log.accepted();
      if (!sample) throw new Error('no delivery');
      const header = String(sample.hook.headers['payorch-signature']);
      const signedAt = Number(/t=(\d+)/.exec(header)?.[1]);
      const refusal = (call: () => unknown) => {
        try {
          call();
        } catch (error) {
          if (error instanceof WebhookSignatureError) return error.reason;
          throw error;
        }
        return 'accepted';
      };
      const tampered = sample.hook.rawBody.replace(invoiceId, `${invoiceId}x`);
      expect(tampered).not.toBe(sample.hook.rawBody);
      expect(refusal(() => verifyWebhook(tampered, header, [current, old]))).toBe('NoMatchingSignature');
      expect(refusal(() => verifyWebhook(sample.hook.rawBody, header, ['whsec_wrong']))).toBe('NoMatchingSignature');
      expect(refusal(() => verifyWebhook(sample.hook.rawBody, header, [current], 300, signedAt + 301))).toBe(
        'TimestampOutsideTolerance',
      );
      expect(refusal(() => verifyWebhook(sample.hook.rawBody, header, [current], 300, signedAt + 299))).toBe(
        'accepted',
      );
    } finally {
      await rotating.stop();
    }
  });
});
