import { driveSample, gatewayClient, sampleRequest, waitUntil } from '../../src/dev/samples';
import { transitionEventType, type InvoiceEvent } from '../../src/domain/events';
import type { Problem } from '../../src/gateway/problem';
import type { InvoiceState } from '../../src/workflows/definitions';
import { TEST_KEYS, TEST_TENANT } from '../support/access';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { startTestGateway } from '../gateway/gateway-env';
import { eventually } from '../support/wait';

interface EventPage {
  data: InvoiceEvent[];
  next: string;
  hasMore: boolean;
}

describe('GET /v1/events', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  // `null`: no Authorization header at all.
  const get = (query: string, key: string | null = TEST_KEYS.service) =>
    fetch(`${stack.gateway.url}/v1/events${query}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  const page = async (query: string, key?: string): Promise<EventPage> => {
    const response = await get(query, key);
    expect(response.status).toBe(200);
    return (await response.json()) as EventPage;
  };
  /** The invoice's events once its last transition is among them: the final one is recorded as the workflow ends. */
  const eventsOf = (state: InvoiceState) =>
    eventually(async () => {
      const { data } = await page(`?invoiceId=${state.invoiceId}`);
      return data.length > 0 && data.at(-1)?.type === transitionEventType(state.status) ? data : undefined;
    });

  it("lists an invoice's transitions and undos in order, each with the invoice as of it; filters; scopes", async () => {
    const paidId = uniqueId('evt_paid');
    const paid = await driveSample(stack.api, { invoiceId: paidId, provider: 'alfred', direction: 'pay_in' });
    expect(paid.status).toBe('COMPLETED');
    const paidEvents = await eventsOf(paid);
    // One event per transition, in the same order, numbered from 1 under the tenant's name for the invoice.
    expect(paidEvents.map((e) => e.type)).toEqual(paid.transitions.map((t) => transitionEventType(t.status)));
    expect(paidEvents.map((e) => e.type)).toEqual(
      expect.arrayContaining(['invoice.created', 'invoice.submitted', 'invoice.awaiting_settlement']),
    );
    expect(paidEvents.at(-1)?.type).toBe('invoice.completed');
    expect(paidEvents.map((e) => e.sequence)).toEqual(paidEvents.map((_, index) => index + 1));
    for (const event of paidEvents) {
      expect(event).toMatchObject({ tenant: TEST_TENANT, invoiceId: paidId });
      expect(event.id).toBe(`evt:${TEST_TENANT}:${paidId}:${event.sequence}`);
      // The invoice as of the event: its status then, and the transitions up to it.
      expect(event.data.invoice.invoiceId).toBe(paidId);
      expect(event.data.invoice.transitions).toHaveLength(event.sequence);
      expect(transitionEventType(event.data.invoice.status)).toBe(event.type);
      expect(event.occurredAt).toBe(event.data.invoice.transitions.at(-1)?.at);
    }

    // A pay-out held for an approval, then cancelled: what alfred created is undone before the invoice ends.
    const heldId = uniqueId('evt_held');
    const client = gatewayClient(stack.api);
    await client.create({ ...sampleRequest({ invoiceId: heldId, provider: 'alfred', direction: 'pay_out' }) });
    await waitUntil(stack.api, heldId, (s) => s.status === 'AWAITING_APPROVAL');
    await client.decide(heldId, 'cancel', 'the customer changed their mind');
    const held = await waitUntil(stack.api, heldId, (s) => s.status === 'CANCELLED');
    const heldEvents = await eventsOf(held);
    const heldTypes = heldEvents.map((e) => e.type);
    expect(heldTypes).toContain('invoice.awaiting_approval');
    expect(held.compensations.length).toBeGreaterThan(0);
    const undos = heldTypes.filter((type) => type.startsWith('invoice.compensation_'));
    expect(undos).toEqual(held.compensations.map((c) => `invoice.compensation_${c.outcome}`));
    // Undone first, then cancelled.
    expect(heldTypes.indexOf(undos[0] ?? '')).toBeLessThan(heldTypes.indexOf('invoice.cancelled'));
    expect(heldTypes.at(-1)).toBe('invoice.cancelled');
    expect(heldEvents.map((e) => e.sequence)).toEqual(heldEvents.map((_, index) => index + 1));

    // The whole log: both invoices' events, in position order with no gap, read in pages of three.
    const all: InvoiceEvent[] = [];
    let cursor = '0';
    for (;;) {
      const next = await page(`?after=${cursor}&limit=3`);
      expect(next.data.length).toBeLessThanOrEqual(3);
      all.push(...next.data);
      cursor = next.next;
      if (!next.hasMore) break;
    }
    expect(all.map((e) => e.position)).toEqual(all.map((_, index) => index + 1));
    expect(all.filter((e) => e.invoiceId === paidId).map((e) => e.id)).toEqual(paidEvents.map((e) => e.id));
    expect(all.filter((e) => e.invoiceId === heldId).map((e) => e.id)).toEqual(heldEvents.map((e) => e.id));
    expect(await page(`?after=${cursor}`)).toEqual({ data: [], next: cursor, hasMore: false });

    const finals = await page('?type=invoice.completed,invoice.cancelled');
    expect(finals.data.map((e) => [e.invoiceId, e.type])).toEqual([
      [paidId, 'invoice.completed'],
      [heldId, 'invoice.cancelled'],
    ]);
    const undone = await page(`?type=invoice.compensation_done&invoiceId=${heldId}`);
    expect(undone.data.map((e) => e.type)).toEqual(undos.filter((type) => type === 'invoice.compensation_done'));

    // Another tenant's key reads its own, empty, log; none of these events.
    expect(await page('', TEST_KEYS.otherTenant)).toEqual({ data: [], next: '0', hasMore: false });
  });

  it('refuses a caller without a key (401) or without events:read (403), and a bad cursor or type (400)', async () => {
    expect((await get('', null)).status).toBe(401);
    const forbidden = await get('', TEST_KEYS.reader);
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as Problem).type).toBe('Forbidden');

    for (const [query, path] of [
      ['?after=abc', 'after'],
      ['?after=-1', 'after'],
      ['?after=9007199254740993', 'after'],
      ['?type=invoice.nonsense', 'type'],
      ['?limit=501', 'limit'],
    ] as const) {
      const response = await get(query);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await response.json()) as Problem;
      expect(body.type).toBe('ValidationError');
      expect(body.errors?.map((error) => error.path.split('.')[0])).toContain(path);
    }
  });

  it('answers 503 StoreUnavailable from a gateway started without a store', async () => {
    const storeless = await startTestGateway(stack.env);
    try {
      const response = await storeless.call('/v1/events');
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).not.toBeNull();
      expect(((await response.json()) as Problem).type).toBe('StoreUnavailable');
    } finally {
      await storeless.close();
    }
  });
});
