import { MockActivityEnvironment } from '@temporalio/testing';
import { deliveryActivities } from '../../src/activities/deliveries';
import { createLogger } from '../../src/logger';
import { addPendingDeliveries } from '../../src/webhooks/deliveries';
import { endpointRepository } from '../../src/webhooks/endpoints';
import { TEST_TENANT } from '../support/access';
import { recordEvents } from '../support/deliveries';
import { fakeRegistry } from '../support/fake-provider';
import { uniqueId } from '../support/requests';
import { startTestStore, type TestStore } from '../support/store';
import { testConfig } from '../support/temporal-env';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * Temporal starts a delivery's next attempt once the last one's start-to-close timeout passes, whether or not that one
 * is still running. In one worker process the two must not both send the event: the later waits for the earlier and
 * finds it delivered.
 */
describe('two attempts of one delivery at once', () => {
  const receiver = new WebhookReceiver();
  let test: TestStore;

  beforeAll(async () => {
    await receiver.start();
    test = await startTestStore();
  });
  afterAll(async () => {
    await receiver.stop();
    await test?.close();
  });

  it('sends the event once: the second attempt waits for the first and finds it delivered', async () => {
    const config = testConfig({ WEBHOOK_TIMEOUT_MS: '5000' });
    const { endpoint } = await endpointRepository(test.store, config.payloadEncryption.keys).create({
      tenant: TEST_TENANT,
      url: receiver.url,
      eventTypes: ['*'],
    });
    const [event] = await recordEvents(test.store, TEST_TENANT, uniqueId('overlap'), ['CREATED']);
    if (!event) throw new Error('no event recorded');
    const input = { endpointId: endpoint.id, eventId: event.id };
    await addPendingDeliveries(test.store, [input]);
    // The receiver takes its time, as a slow endpoint (or a starved process) does: the first attempt is still waiting
    // for its answer when the second starts.
    receiver.answer = () => new Promise((resolve) => setTimeout(() => resolve(200), 500));
    const { deliverEvent } = deliveryActivities({
      providers: fakeRegistry().registry,
      logger: createLogger({ level: 'silent' }),
      store: test.store,
      config,
    });

    const first = new MockActivityEnvironment({ attempt: 1 }).run(deliverEvent, input);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = new MockActivityEnvironment({ attempt: 2 }).run(deliverEvent, input);

    expect(await Promise.all([first, second])).toEqual([
      { outcome: 'delivered', statusCode: 200 },
      { outcome: 'already_delivered' },
    ]);
    expect(receiver.received.map((hook) => hook.headers['payorch-event-id'])).toEqual([event.id]);
  });
});
