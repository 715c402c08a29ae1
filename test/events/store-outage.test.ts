import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInvoiceClient, type InvoiceClient } from '../../src/client';
import { UNTENANTED } from '../../src/domain/events';
import { pageEvents } from '../../src/events/log';
import { startStoreProcess } from '../../src/dev/store';
import { createLogger } from '../../src/logger';
import { openStore, type Store } from '../../src/store/database';
import { freePort } from '../../src/temporal/dev-server';
import { providerEventSignal } from '../../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { FAST_TIMING, startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually, waitForStatus } from '../support/wait';

/**
 * An invoice never goes on without its events: while the store is away it waits before its next provider call, and
 * once the store is back the events it had are recorded, in order, and it carries on.
 */
describe('the event log while its store is away', () => {
  const { registry, fakes } = fakeRegistry();
  let dataDir: string;
  let port: number;
  let server: Awaited<ReturnType<typeof startStoreProcess>> | undefined;
  let store: Store;
  let env: TestEnv;
  let invoices: InvoiceClient;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'payorch-outage-store-'));
    port = await freePort();
    server = await startStoreProcess({ dataDir, template: process.env.TEST_STORE_TEMPLATE, port });
    store = await openStore(server.url, createLogger({ level: 'silent' }));
    env = await startTestEnv({ providers: registry, store });
    invoices = createInvoiceClient({ client: env.temporal, timing: FAST_TIMING, recordEvents: true });
  });
  afterAll(async () => {
    await env?.stop();
    await store?.close();
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const eventsOf = async (invoiceId?: string) =>
    (await pageEvents(store, UNTENANTED, { ...(invoiceId ? { invoiceId } : {}), limit: 500 })).events;

  it('holds the invoice before its next provider call, and records everything once the store is back', async () => {
    const before = invoiceRequest();
    await invoices.startInvoice(before);
    await invoices.handle(before.invoiceId).signal(providerEventSignal, fakeEvent(before, 'paid', 'settled'));
    expect((await invoices.waitForResult(before.invoiceId)).status).toBe('COMPLETED');
    await eventually(async () =>
      (await eventsOf(before.invoiceId)).at(-1)?.type === 'invoice.completed' ? true : undefined,
    );

    await server?.stop();
    server = undefined;
    const during = invoiceRequest();
    await invoices.startInvoice(during);
    // Its first provider call (KYC, an ordinary activity since replay-safe-1) carries the events before it, finds the
    // store away and does not call alfred; the invoice waits there.
    await waitForStatus(invoices, during.invoiceId, 'KYC_PENDING');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const called = (step: string) =>
      fakes.alfred.calls.filter((c) => c.invoiceId === during.invoiceId && c.step === step);
    expect(fakes.alfred.calls.filter((c) => c.invoiceId === during.invoiceId)).toEqual([]);
    expect((await invoices.getInvoice(during.invoiceId)).status).toBe('KYC_PENDING');

    server = await startStoreProcess({ dataDir, port });
    await waitForStatus(invoices, during.invoiceId, 'AWAITING_SETTLEMENT', 60_000);
    expect(called('kyc')).toHaveLength(1);
    expect(called('submit')).toHaveLength(1);
    // The first KYC carried the events, found the store away and did not call alfred; the second did.
    const scheduled = ((await invoices.handle(during.invoiceId).fetchHistory()).events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'kyc',
    );
    expect(scheduled).toHaveLength(2);
    await invoices.handle(during.invoiceId).signal(providerEventSignal, fakeEvent(during, 'paid', 'settled'));
    const result = await invoices.waitForResult(during.invoiceId);
    expect(result.status).toBe('COMPLETED');

    const events = await eventually(async () => {
      const found = await eventsOf(during.invoiceId);
      return found.at(-1)?.type === 'invoice.completed' ? found : undefined;
    });
    expect(events.map((e) => e.type)).toEqual(result.transitions.map((t) => `invoice.${t.status.toLowerCase()}`));
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, index) => index + 1));
    const all = await eventsOf();
    expect(all.map((e) => e.position)).toEqual(all.map((_, index) => index + 1));
  }, 180_000);
});
