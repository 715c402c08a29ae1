import { invoiceEventId, type NewInvoiceEvent } from '../../src/domain/events';
import { pageEvents, recordEvents } from '../../src/events/log';
import type { InvoiceState } from '../../src/workflows/definitions';
import { startTestStore, type TestStore } from '../support/store';

function invoiceAt(invoiceId: string, sequence: number): InvoiceState {
  return {
    invoiceId,
    provider: 'alfred',
    direction: 'pay_in',
    amount: 12500,
    currency: 'USD',
    customerId: 'cus_1',
    status: 'SUBMITTED',
    transitions: [{ status: 'SUBMITTED', at: new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)).toISOString() }],
    providerRefs: {},
    compensations: [],
    eventsApplied: 0,
    eventsIgnored: 0,
  };
}

function eventOf(tenant: string, invoiceId: string, sequence: number, type = 'invoice.submitted'): NewInvoiceEvent {
  const invoice = invoiceAt(invoiceId, sequence);
  return {
    id: invoiceEventId(tenant, invoiceId, sequence),
    type,
    tenant,
    invoiceId,
    sequence,
    occurredAt: invoice.transitions[0]?.at ?? '',
    data: { invoice },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('the event log', () => {
  let test: TestStore;
  beforeAll(async () => {
    test = await startTestStore();
  });
  afterAll(async () => {
    await test?.close();
  });

  it('gives a tenant consecutive positions in the order events are recorded, and pages through them', async () => {
    await recordEvents(test.store, [eventOf('t-order', 'a', 1), eventOf('t-order', 'a', 2)]);
    await recordEvents(test.store, [eventOf('t-order', 'b', 1, 'invoice.completed'), eventOf('t-order', 'a', 3)]);
    // Another tenant's log counts on its own.
    await recordEvents(test.store, [eventOf('t-else', 'a', 1)]);

    const all = await pageEvents(test.store, 't-order', { limit: 10 });
    expect(all.events.map((e) => [e.position, e.invoiceId, e.sequence])).toEqual([
      [1, 'a', 1],
      [2, 'a', 2],
      [3, 'b', 1],
      [4, 'a', 3],
    ]);
    expect(all).toMatchObject({ next: 4, hasMore: false });
    expect(all.events[0]?.data.invoice.invoiceId).toBe('a');
    expect(all.events[0]?.occurredAt).toBe('2026-01-01T00:00:01.000Z');

    const first = await pageEvents(test.store, 't-order', { limit: 3 });
    expect(first).toMatchObject({ next: 3, hasMore: true });
    const rest = await pageEvents(test.store, 't-order', { after: first.next, limit: 3 });
    expect(rest.events.map((e) => e.position)).toEqual([4]);
    expect(rest).toMatchObject({ next: 4, hasMore: false });
    const beyond = await pageEvents(test.store, 't-order', { after: 4, limit: 3 });
    expect(beyond).toEqual({ events: [], next: 4, hasMore: false });

    const ofA = await pageEvents(test.store, 't-order', { invoiceId: 'a', limit: 10 });
    expect(ofA.events.map((e) => e.sequence)).toEqual([1, 2, 3]);
    const completed = await pageEvents(test.store, 't-order', { types: ['invoice.completed'], limit: 10 });
    expect(completed.events.map((e) => e.position)).toEqual([3]);
    expect((await pageEvents(test.store, 't-else', { limit: 10 })).events.map((e) => e.position)).toEqual([1]);
  });

  it('records an event once, however often it is handed over, and answers with its first position', async () => {
    const first = await recordEvents(test.store, [eventOf('t-idem', 'x', 1), eventOf('t-idem', 'x', 2)]);
    expect(first.inserted).toBe(2);
    // A retry of the same batch, and a later one that repeats its tail: only what is new takes a position.
    const again = await recordEvents(test.store, [eventOf('t-idem', 'x', 1), eventOf('t-idem', 'x', 2)]);
    expect(again.inserted).toBe(0);
    expect(again.events.map((e) => [e.sequence, e.position])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    const overlapping = await recordEvents(test.store, [eventOf('t-idem', 'x', 2), eventOf('t-idem', 'x', 3)]);
    expect(overlapping.inserted).toBe(1);
    expect(overlapping.events.map((e) => [e.sequence, e.position])).toEqual([
      [2, 2],
      [3, 3],
    ]);
    const page = await pageEvents(test.store, 't-idem', { limit: 10 });
    expect(page.events.map((e) => e.position)).toEqual([1, 2, 3]);
  });

  it('keeps positions contiguous when many recorders of one tenant write at once', async () => {
    const invoices = range(1, 12).map((n) => `inv-${n}`);
    // Each invoice records its events in batches of three, all invoices at the same time, some batches twice.
    await Promise.all(
      invoices.map(async (invoiceId) => {
        for (const from of [1, 4, 7]) {
          const batch = range(from, from + 2).map((sequence) => eventOf('t-busy', invoiceId, sequence));
          await Promise.all([recordEvents(test.store, batch), recordEvents(test.store, batch)]);
        }
      }),
    );
    const page = await pageEvents(test.store, 't-busy', { limit: 500 });
    expect(page.events.map((e) => e.position)).toEqual(range(1, invoices.length * 9));
    for (const invoiceId of invoices) {
      const own = page.events.filter((e) => e.invoiceId === invoiceId);
      // An invoice's events keep their own order within the tenant's.
      expect(own.map((e) => e.sequence)).toEqual(range(1, 9));
    }
  });
});
