import type { InvoiceEvent } from '../../src/domain/events';
import { sendEvent } from '../../src/webhooks/deliveries';
import { isPrivateAddress, resolveDestination } from '../../src/webhooks/destination';
import { verifyWebhook } from '../../src/webhooks/signature';
import { WebhookReceiver } from '../support/webhook-receiver';

const event = {
  id: 'evt:test:inv-1:1',
  type: 'invoice.created',
  tenant: 'test',
  invoiceId: 'inv-1',
  sequence: 1,
  position: 1,
  occurredAt: new Date().toISOString(),
  data: { invoice: { invoiceId: 'inv-1', status: 'CREATED', transitions: [] } },
} as unknown as InvoiceEvent;

describe('where deliveries may go', () => {
  const receiver = new WebhookReceiver();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());

  it('classes loopback, private, link-local and reserved addresses as private, public ones not', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1']) {
      expect([address, isPrivateAddress(address)]).toEqual([address, true]);
    }
    for (const address of ['0.0.0.0', '255.255.255.255', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1']) {
      expect([address, isPrivateAddress(address)]).toEqual([address, true]);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111']) {
      expect([address, isPrivateAddress(address)]).toEqual([address, false]);
    }
  });

  it('refuses a name that resolves to a private address, unless private destinations are allowed', async () => {
    await expect(resolveDestination(new URL('http://localhost:8080/'), false)).rejects.toMatchObject({
      type: 'WebhookDestinationNotAllowed',
    });
    await expect(resolveDestination(new URL('http://[::1]:8080/'), false)).rejects.toMatchObject({
      type: 'WebhookDestinationNotAllowed',
    });
    await expect(resolveDestination(new URL('http://127.0.0.1:8080/'), true)).resolves.toEqual({
      address: '127.0.0.1',
      family: 4,
    });
  });

  it('sends nothing to a refused destination, and a signed request to an allowed one', async () => {
    const refused = await sendEvent({
      url: `${receiver.url}/hooks`,
      event,
      secrets: ['whsec_a'],
      timeoutMs: 2000,
      allowPrivate: false,
    });
    expect(refused).toMatchObject({ ok: false, refused: true });
    expect(receiver.received).toHaveLength(0);

    const sent = await sendEvent({
      url: `${receiver.url}/hooks?tenant=a`,
      event,
      secrets: ['whsec_a'],
      timeoutMs: 2000,
      allowPrivate: true,
    });
    expect(sent).toMatchObject({ ok: true, statusCode: 200 });
    const [hook] = receiver.received;
    expect(hook?.path).toBe('/hooks?tenant=a');
    expect(hook?.headers.host).toBe(new URL(receiver.url).host);
    expect(verifyWebhook(hook?.rawBody ?? '', hook?.headers['payorch-signature'], ['whsec_a']).id).toBe(event.id);
  });

  it('counts a redirect and a slow answer as failures', async () => {
    receiver.answer = () => Promise.resolve(302);
    const redirected = await sendEvent({
      url: receiver.url,
      event,
      secrets: ['s'],
      timeoutMs: 2000,
      allowPrivate: true,
    });
    expect(redirected).toMatchObject({ ok: false, statusCode: 302 });
    receiver.answer = () => new Promise((resolve) => setTimeout(() => resolve(200), 500));
    const slow = await sendEvent({ url: receiver.url, event, secrets: ['s'], timeoutMs: 200, allowPrivate: true });
    expect(slow).toMatchObject({ ok: false, error: 'no answer within 200 ms' });
    expect(slow.statusCode).toBeUndefined();
  });

  it('takes an answer that came in time even when this process stalled past the deadline before reading it', async () => {
    // The receiver shares this process: it answers at once, then blocks the process for twice the sender's timeout,
    // so the sender's deadline and the answer on its socket are both due when the process runs again.
    receiver.answer = () => {
      setImmediate(() => {
        const until = Date.now() + 400;
        while (Date.now() < until);
      });
      return Promise.resolve(200);
    };
    const sent = await sendEvent({ url: receiver.url, event, secrets: ['s'], timeoutMs: 200, allowPrivate: true });
    expect(sent).toMatchObject({ ok: true, statusCode: 200 });
    expect(sent.durationMs).toBeGreaterThanOrEqual(400);
  });
});
