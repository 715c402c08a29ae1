// Records the histories of representative invoices into test/histories/, for the replay test that guards
// determinism: a workflow change that would break invoices already running fails CI. Run after a deliberate,
// versioned change to the workflow: `npm run histories:record`. It never rewrites a history of an earlier release.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createActivities } from '../src/activities';
import { createInvoiceClient, type InvoiceClient } from '../src/client';
import { loadConfig } from '../src/config';
import { createLogger, installTemporalRuntimeLogger } from '../src/logger';
import { connectClient, connectWorker } from '../src/temporal/connection';
import { startTemporal } from '../src/temporal/dev-server';
import { createWorker } from '../src/temporal/worker';
import type { QueryResultRow } from 'pg';
import { openStore, type Queryable, type Store } from '../src/store/database';
import { startEmbeddedStore } from '../src/store/embedded';
import { providerCallbackUpdate, providerEventSignal, providerLookSignal } from '../src/workflows/definitions';
import { fakeEvent, fakeRegistry, type FakeProvider } from '../test/support/fake-provider';
import { invoiceRequest } from '../test/support/requests';
import { FAST_TIMING } from '../test/support/temporal-env';
import { waitForStatus } from '../test/support/wait';

/** `invoices` with the tests' fast timing; `impatient` retries provider calls for 2 s; `shortLived` has a 30-event
 * history budget. */
interface Clients {
  invoices: InvoiceClient;
  /** Tenant acme's view, under its policy: pay-outs need an approval, two from 100.00 USD. */
  acme: InvoiceClient;
  impatient: InvoiceClient;
  shortLived: InvoiceClient;
  /** The same clients, starting invoices that record their events in the event log (patch event-log-1). */
  recording: Omit<Clients, 'recording' | 'store'>;
  /** While `away`, the workers' store refuses every statement, as a store that went down would. */
  store: { away: boolean };
}

type Scenario = (clients: Clients, fakes: Record<string, FakeProvider>) => Promise<string>;

/**
 * Histories recorded before the money-safety release (`test/histories/<name>.json`, no prefix) are frozen: they prove
 * that invoices started by the released workflow still replay. These scenarios record later releases, each history
 * prefixed with its release: `ms1-` money safety, `fe1-` tenants and four-eyes approval, `bv1-` Bitfinex webhooks
 * verified by the invoice's own look, `el1-` invoices that record their events in the event log, `rs1-` invoices that
 * decide on recorded time. `npm run histories:record` records the newest release's only; `npm run histories:record --
 * ms1-` would re-record an older one's.
 */
/** A pay-out of tenant acme, created by acme-service, that alfred has asked to approve. */
async function acmePayOutAwaitingApproval(acme: InvoiceClient, invoiceId: string, amount: number) {
  const request = invoiceRequest({ invoiceId, direction: 'pay_out', amount });
  await acme.startInvoice(request, { createdBy: 'acme-service' });
  const key = `acme_${invoiceId}`;
  await acme
    .handle(invoiceId)
    .signal(providerEventSignal, fakeEvent({ ...request, invoiceId: key }, 'ask', 'approval_requested'));
  await waitForStatus(acme, invoiceId, 'AWAITING_APPROVAL');
  return { request, key };
}

/**
 * A Bitfinex invoice whose polls fill its short history budget, so it continues as new; settled once the continued run
 * is under way, so the history recorded (the last run's) starts from what the first run carried.
 */
async function continuedRunSettled(
  invoices: InvoiceClient,
  invoiceId: string,
  fakes: Record<string, FakeProvider>,
): Promise<string> {
  const request = invoiceRequest({ invoiceId, provider: 'bitfinex' });
  await invoices.startInvoice(request);
  await waitForStatus(invoices, invoiceId, (s) => s.status === 'AWAITING_SETTLEMENT');
  const handle = invoices.handle(invoiceId);
  for (let i = 0; i < 600; i++) {
    const first = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
    if (first?.continuedExecutionRunId) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fakes.bitfinex?.statuses.set(invoiceId, 'settled');
  return invoiceId;
}

/** An Xprizo pay-out held for our verdict: the payment callback waits (an Update) until the approval answers it. */
async function xprizoCallbackAccepted(invoices: InvoiceClient, invoiceId: string): Promise<string> {
  const request = invoiceRequest({
    invoiceId: invoiceId,
    provider: 'xprizo',
    direction: 'pay_out',
    approval: { required: true, approvers: [], timeoutSeconds: 600 },
  });
  await invoices.startInvoice(request);
  const handle = invoices.handle(request.invoiceId);
  await handle.signal(providerEventSignal, fakeEvent(request, 'held', 'approval_requested'));
  await waitForStatus(invoices, request.invoiceId, 'AWAITING_APPROVAL');
  const callback = { ...fakeEvent(request, 'callback-1', 'approval_requested'), waitSeconds: 10 };
  const verdict = handle.executeUpdate(providerCallbackUpdate, { args: [callback] });
  await invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' });
  await verdict;
  await handle.signal(providerEventSignal, fakeEvent(request, 'released', 'settled'));
  return request.invoiceId;
}

/** The event log's scenarios, recorded by the release that first wrote them (`el1`) and by each that changed them. */
function eventLogScenarios(release: 'el1' | 'ef1' | 'rs1'): Record<string, Scenario> {
  return {
    [`${release}-alfred-pay-out-two-approvers-completed`]: async ({ recording: { acme } }) => {
      const { request, key } = await acmePayOutAwaitingApproval(acme, `hist_${release}_two`, 25_000);
      // The first approval is an event of its own while the invoice waits for the second.
      await acme.approveInvoice(request.invoiceId, { by: 'acme-alice' });
      await acme.approveInvoice(request.invoiceId, { by: 'acme-bob' });
      await acme
        .handle(request.invoiceId)
        .signal(providerEventSignal, fakeEvent({ ...request, invoiceId: key }, 'paid', 'settled'));
      return key;
    },
    [`${release}-xprizo-cancelled-and-compensated`]: async ({ recording: { invoices } }) => {
      const request = invoiceRequest({
        invoiceId: `hist_${release}_xprizo_cancel`,
        provider: 'xprizo',
        approval: { required: true, approvers: [], timeoutSeconds: 600 },
      });
      await invoices.startInvoice(request);
      await waitForStatus(invoices, request.invoiceId, 'AWAITING_APPROVAL');
      await invoices.cancelInvoice(request.invoiceId, { by: 'ops@acme', reason: 'customer changed their mind' });
      return request.invoiceId;
    },
    // The continued run's history: it starts from the mark of what the first run published.
    [`${release}-continued-run-settled`]: ({ recording: { shortLived } }, fakes) =>
      continuedRunSettled(shortLived, `hist_${release}_continued`, fakes),
    [`${release}-bitfinex-force-completed`]: async ({ recording: { acme } }, fakes) => {
      const request = invoiceRequest({ invoiceId: `hist_${release}_forced`, provider: 'bitfinex' });
      const key = `acme_${request.invoiceId}`;
      // The first completion by hand fails at Bitfinex; the second completes.
      fakes.bitfinex?.script(key, 'forceComplete', {
        refuse: { type: 'ProviderRejected', message: 'no such deposit' },
      });
      await acme.startInvoice(request, { createdBy: 'acme-service' });
      await waitForStatus(acme, request.invoiceId, 'AWAITING_SETTLEMENT');
      await acme
        .forceCompleteInvoice(request.invoiceId, { payCcy: 'BTC', depositId: 9001, by: 'acme-alice' })
        .catch(() => undefined);
      fakes.bitfinex?.script(key, 'forceComplete', {});
      await acme.forceCompleteInvoice(request.invoiceId, { payCcy: 'BTC', depositId: 9002, by: 'acme-alice' });
      return key;
    },
  };
}

const SCENARIOS: Record<string, Scenario> = {
  'ms1-alfred-pay-in-completed': async ({ invoices }) => {
    const request = invoiceRequest({ invoiceId: 'hist_ms1_alfred_in' });
    await invoices.startInvoice(request);
    const handle = invoices.handle(request.invoiceId);
    // Another provider's event and one naming another reference are ignored and counted.
    await handle.signal(providerEventSignal, { ...fakeEvent(request, 'other', 'rejected'), provider: 'xprizo' });
    await handle.signal(providerEventSignal, {
      ...fakeEvent(request, 'wrong-ref', 'cancelled'),
      ref: { key: 'transactionId', value: 'tx-someone-else' },
    });
    await handle.signal(providerEventSignal, fakeEvent(request, 'e1', 'settled'));
    return request.invoiceId;
  },
  'ms1-alfred-pay-out-approved-temporal-cancel-refused': async ({ invoices }, fakes) => {
    const request = invoiceRequest({
      invoiceId: 'hist_ms1_alfred_out',
      direction: 'pay_out',
      approval: { required: true, approvers: ['ops@acme'], timeoutSeconds: 600 },
    });
    fakes.alfred?.script(request.invoiceId, 'approveAtProvider', { delayMs: 1500 });
    await invoices.startInvoice(request);
    const handle = invoices.handle(request.invoiceId);
    await handle.signal(providerEventSignal, fakeEvent(request, 'ask', 'approval_requested'));
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_APPROVAL');
    await invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' });
    // Past the point of no return: the cancellation is refused and recorded, the approval at alfred finishes.
    await handle.cancel();
    await handle.signal(providerEventSignal, fakeEvent(request, 'done', 'settled'));
    return request.invoiceId;
  },
  'ms1-payone-polled-and-captured': async ({ invoices }, fakes) => {
    const request = invoiceRequest({
      invoiceId: 'hist_ms1_payone',
      provider: 'payone',
      currency: 'JOD',
      amount: 1250,
    });
    fakes.payone?.statuses.set(request.invoiceId, 'authorized');
    await invoices.startInvoice(request);
    return request.invoiceId;
  },
  'ms1-xprizo-cancelled-and-compensated': async ({ invoices }) => {
    const request = invoiceRequest({
      invoiceId: 'hist_ms1_xprizo_cancel',
      provider: 'xprizo',
      approval: { required: true, approvers: [], timeoutSeconds: 600 },
    });
    await invoices.startInvoice(request);
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_APPROVAL');
    await invoices.handle(request.invoiceId).cancel();
    return request.invoiceId;
  },
  'ms1-xprizo-callback-accepted': ({ invoices }) => xprizoCallbackAccepted(invoices, 'hist_ms1_xprizo_callback'),
  'ms1-bitfinex-expired-by-provider': async ({ invoices }) => {
    const request = invoiceRequest({ invoiceId: 'hist_ms1_bitfinex', provider: 'bitfinex' });
    await invoices.startInvoice(request);
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    await invoices.handle(request.invoiceId).signal(providerEventSignal, fakeEvent(request, 'x', 'expired'));
    return request.invoiceId;
  },
  'ms1-alfred-failed-non-retryable': async ({ invoices }, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_ms1_alfred_failed' });
    fakes.alfred?.script(request.invoiceId, 'bank', { refuse: { type: 'ProviderRejected', message: 'bank refused' } });
    await invoices.startInvoice(request);
    return request.invoiceId;
  },
  'ms1-submit-unknown-found-at-provider': async ({ impatient }, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_ms1_unknown', provider: 'bitfinex' });
    fakes.bitfinex?.script(request.invoiceId, 'submit', { transientFailures: 1000 });
    await impatient.startInvoice(request);
    await waitForStatus(impatient, request.invoiceId, 'AWAITING_SETTLEMENT');
    await impatient.handle(request.invoiceId).signal(providerEventSignal, fakeEvent(request, 'paid', 'settled'));
    return request.invoiceId;
  },
  // The recorded history is the continued run's: it starts from what the first run carried.
  'ms1-continued-run-settled': ({ shortLived }, fakes) => continuedRunSettled(shortLived, 'hist_ms1_continued', fakes),
  'fe1-pay-out-two-approvers': async ({ acme }) => {
    const { request, key } = await acmePayOutAwaitingApproval(acme, 'hist_fe1_two', 25_000);
    // Refused by the validator, so never written to the history: the creator, then the same approver twice.
    await acme.approveInvoice(request.invoiceId, { by: 'acme-service' }).catch(() => undefined);
    await acme.approveInvoice(request.invoiceId, { by: 'acme-alice' });
    await acme.approveInvoice(request.invoiceId, { by: 'acme-alice' }).catch(() => undefined);
    await acme.approveInvoice(request.invoiceId, { by: 'acme-bob' });
    await acme
      .handle(request.invoiceId)
      .signal(providerEventSignal, fakeEvent({ ...request, invoiceId: key }, 'paid', 'settled'));
    return key;
  },
  'fe1-pay-out-held-by-policy-rejected': async ({ acme }) => {
    // The request asks for no approval; the tenant's policy holds the pay-out for one, and it is rejected.
    const { request, key } = await acmePayOutAwaitingApproval(acme, 'hist_fe1_policy', 5_000);
    await acme.rejectInvoice(request.invoiceId, { by: 'acme-alice', reason: 'unknown beneficiary' });
    return key;
  },
  'bv1-bitfinex-look-settled': async ({ invoices }, fakes) => {
    // Bitfinex's webhook only tells the invoice to look: the first look finds the invoice still open and changes
    // nothing; the second fetches it COMPLETED, and the invoice completes on the API's word.
    const request = invoiceRequest({ invoiceId: 'hist_bv1_look', provider: 'bitfinex' });
    await invoices.startInvoice(request);
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    const handle = invoices.handle(request.invoiceId);
    await handle.signal(providerLookSignal, { provider: 'bitfinex', hint: 'settled' });
    const fetched = () =>
      fakes.bitfinex?.calls.filter((c) => c.step === 'fetchStatus' && c.invoiceId === request.invoiceId).length ?? 0;
    for (let i = 0; i < 100 && fetched() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    fakes.bitfinex?.statuses.set(request.invoiceId, 'settled');
    await handle.signal(providerLookSignal, { provider: 'bitfinex', hint: 'settled' });
    return request.invoiceId;
  },
  'bv1-bitfinex-look-cancelled-waiting-for-submit': async ({ invoices }, fakes) => {
    // The webhook overtakes submit's answer, so the look waits for the invoice's object; a Temporal cancellation
    // reaches it there and the invoice's own flow cancels and undoes.
    const request = invoiceRequest({ invoiceId: 'hist_bv1_look_cancel', provider: 'bitfinex' });
    fakes.bitfinex?.script(request.invoiceId, 'submit', { delayMs: 2000 });
    await invoices.startInvoice(request);
    const submitting = () =>
      fakes.bitfinex?.calls.some((c) => c.step === 'submit' && c.invoiceId === request.invoiceId);
    for (let i = 0; i < 100 && !submitting(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const handle = invoices.handle(request.invoiceId);
    await handle.signal(providerLookSignal, { provider: 'bitfinex', hint: 'settled' });
    await handle.cancel();
    return request.invoiceId;
  },
  'ms1-needs-review-resolved': async ({ impatient }, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_ms1_review', provider: 'payone' });
    fakes.payone?.statuses.set(request.invoiceId, 'authorized');
    fakes.payone?.script(request.invoiceId, 'complete', { transientFailures: 1000 });
    await impatient.startInvoice(request);
    await waitForStatus(impatient, request.invoiceId, 'COMPLETING');
    fakes.payone?.statusUnavailable.add(request.invoiceId);
    await waitForStatus(impatient, request.invoiceId, 'NEEDS_REVIEW');
    await impatient.resolveInvoice(request.invoiceId, {
      outcome: 'COMPLETED',
      reason: 'captured in the PayOne back office',
      by: 'ops@acme',
    });
    return request.invoiceId;
  },
  // `pu1-` (patch payone-unknown-1): a polled status word the provider's adapter cannot read; record with `-- pu1-`.
  'pu1-payone-unknown-status-then-captured': async ({ invoices }, fakes) => {
    const request = invoiceRequest({
      invoiceId: 'hist_pu1_payone_unknown',
      provider: 'payone',
      currency: 'JOD',
      amount: 1250,
    });
    const payone = fakes.payone;
    if (!payone) throw new Error('no fake payone');
    // PayOne answers a word its table lacks until the invoice shows it; then the pre-authorization, and the capture.
    const known = payone.fetchStatus.bind(payone);
    let unreadable = true;
    payone.fetchStatus = async (input) =>
      unreadable && input.invoice.invoiceId === request.invoiceId
        ? { status: 'pending', unrecognized: 'ON_HOLD', compensation: 'cancel_transaction' }
        : known(input);
    await invoices.startInvoice(request);
    await waitForStatus(invoices, request.invoiceId, (s) => s.unrecognizedProviderStatus?.status === 'ON_HOLD');
    payone.statuses.set(request.invoiceId, 'authorized');
    unreadable = false;
    return request.invoiceId;
  },
  // `bc1-`: Bitfinex's completion by hand (patch bitfinex-complete-1).
  'bc1-bitfinex-force-completed': async ({ acme }, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_bc1_forced', provider: 'bitfinex' });
    const key = `acme_${request.invoiceId}`;
    fakes.bitfinex?.script(key, 'forceComplete', { delayMs: 1500 });
    await acme.startInvoice(request, { createdBy: 'acme-service' });
    await waitForStatus(acme, request.invoiceId, 'AWAITING_SETTLEMENT');
    const completion = { payCcy: 'BTC', depositId: 9001 };
    // Refused by the validator, so never written to the history: the creator, then a cancel while it completes.
    await acme.forceCompleteInvoice(request.invoiceId, { ...completion, by: 'acme-service' }).catch(() => undefined);
    const first = acme.forceCompleteInvoice(request.invoiceId, {
      ...completion,
      by: 'acme-alice',
      reason: 'deposit arrived without the invoice reference',
    });
    await waitForStatus(acme, request.invoiceId, (s) => s.forcedCompletion?.outcome === 'pending');
    await acme.cancelInvoice(request.invoiceId, { by: 'acme-service' }).catch(() => undefined);
    // A repeat of the same completion joins the one in flight.
    await Promise.all([first, acme.forceCompleteInvoice(request.invoiceId, { ...completion, by: 'acme-bob' })]);
    return key;
  },
  // `el1-` (patch event-log-1): invoices that record their events; the worker records them in an embedded store.
  ...eventLogScenarios('el1'),
  // `ef1-` (patch event-fold-1): the same, now that the events due before a provider step travel with its activity;
  // and the paths only that has: a step that carried events and failed, and one that found the store away.
  ...eventLogScenarios('ef1'),
  'ef1-alfred-submit-refused': async ({ recording: { invoices } }, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_ef1_submit_refused' });
    fakes.alfred?.script(request.invoiceId, 'submit', {
      refuse: { type: 'ProviderRejected', message: 'no such bank' },
    });
    await invoices.startInvoice(request);
    return request.invoiceId;
  },
  'ef1-store-away-before-submit': async ({ recording: { invoices }, store }) => {
    const request = invoiceRequest({ invoiceId: 'hist_ef1_store_away' });
    store.away = true;
    await invoices.startInvoice(request);
    await waitForStatus(invoices, request.invoiceId, 'BANK_READY');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    store.away = false;
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    await invoices.handle(request.invoiceId).signal(providerEventSignal, fakeEvent(request, 'paid', 'settled'));
    return request.invoiceId;
  },
  // `rs1-` (patch replay-safe-1): the same, deciding on recorded time and taking up local answers after the handlers'
  // waits; and the paths that wait and poll most.
  ...eventLogScenarios('rs1'),
  'rs1-payone-polled-and-captured': async ({ recording: { invoices } }, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_rs1_payone', provider: 'payone', currency: 'JOD', amount: 1250 });
    fakes.payone?.statuses.set(request.invoiceId, 'authorized');
    await invoices.startInvoice(request);
    return request.invoiceId;
  },
  'rs1-xprizo-callback-accepted': ({ recording: { invoices } }) =>
    xprizoCallbackAccepted(invoices, 'hist_rs1_xprizo_callback'),
  // `rn1-`: reconciliation's nudge (patch reconciliation-nudge-1); record with `-- rn1-`.
  'rn1-reconciliation-nudge-completes-review': async ({ invoices }, fakes) => {
    // An alfred pay-out approved at alfred whose settlement never came before the deadline: polling ended in
    // NEEDS_REVIEW. alfred then settles it without a webhook; reconciliation's nudge makes the invoice look, and the
    // API's word completes it. A nudge of another provider is ignored and counted.
    const request = invoiceRequest({ invoiceId: 'hist_rn1_nudge', direction: 'pay_out', settlementTimeoutSeconds: 3 });
    await invoices.startInvoice(request);
    const handle = invoices.handle(request.invoiceId);
    await handle.signal(providerEventSignal, fakeEvent(request, 'ask', 'approval_requested'));
    await waitForStatus(invoices, request.invoiceId, 'NEEDS_REVIEW');
    await handle.signal(providerLookSignal, { provider: 'bitfinex', hint: 'orphan', via: 'reconciliation' });
    fakes.alfred?.statuses.set(request.invoiceId, 'settled');
    await handle.signal(providerLookSignal, {
      provider: 'alfred',
      hint: 'settled_not_completed',
      via: 'reconciliation',
    });
    return request.invoiceId;
  },
};

async function run(): Promise<void> {
  // Only the newest release's scenarios by default: an earlier release's histories stay as that release wrote them.
  const only = process.argv[2] ?? 'rs1-';
  const config = loadConfig({ ...process.env, TEMPORAL_NAMESPACE: 'histories' });
  const logger = createLogger({ level: 'warn' });
  installTemporalRuntimeLogger(logger);
  const server = await startTemporal(config, logger, { ephemeral: true });
  const target = { address: server.address, namespace: server.namespace };
  const { registry, fakes } = fakeRegistry();
  // The event log's store, in memory: the histories hold only the recorder's markers, not what it wrote.
  const embedded = await startEmbeddedStore();
  const store = await openStore(embedded.url, logger);
  const storeGate = { away: false };
  const away = () => Promise.reject(new Error('the store is away (a recorded scenario)'));
  const workerStore: Store = {
    query: <R extends QueryResultRow>(sql: string, params?: readonly unknown[]) =>
      storeGate.away ? away() : store.query<R>(sql, params),
    transaction: <T>(work: (tx: Queryable) => Promise<T>) => (storeGate.away ? away() : store.transaction(work)),
    close: () => store.close(),
  };
  const client = await connectClient(config, target);
  const connection = await connectWorker(config, target);
  const workers = await createWorker({
    config,
    connection,
    namespace: server.namespace,
    activities: createActivities({ providers: registry, logger, store: workerStore, temporal: client }),
    logger,
  });
  const clientsOf = (recordEvents: boolean): Omit<Clients, 'recording' | 'store'> => ({
    invoices: createInvoiceClient({ client, timing: FAST_TIMING, recordEvents }),
    acme: createInvoiceClient({
      client,
      timing: FAST_TIMING,
      tenant: 'acme',
      policyFor: () => ({ payoutApproval: 'required', twoApproversFrom: { USD: 10_000 } }),
      recordEvents,
    }),
    // Provider calls retried for two seconds, not thirty minutes, for the unknown-outcome scenarios.
    impatient: createInvoiceClient({
      client,
      timing: { ...FAST_TIMING, providerCallBudgetSeconds: 2 },
      recordEvents,
    }),
    // Polls fill a 30-event history budget within seconds, so the invoice continues as new.
    shortLived: createInvoiceClient({
      client,
      timing: { ...FAST_TIMING, pollAfterSeconds: 1, historyBudgetEvents: 30 },
      recordEvents,
    }),
  });
  const clients: Clients = { ...clientsOf(false), recording: clientsOf(true), store: storeGate };
  const { invoices } = clients;
  try {
    await workers.runUntil(async () => {
      for (const [name, scenario] of Object.entries(SCENARIOS)) {
        if (!name.startsWith(only)) continue;
        const invoiceId = await scenario(clients, fakes);
        const result = await invoices.waitForResult(invoiceId);
        // The CLI writes the proto3 JSON that the SDK's historyFromJSON reads back.
        const json = execFileSync(server.cliPath ?? 'temporal', [
          'workflow',
          'show',
          '--workflow-id',
          invoices.handle(invoiceId).workflowId,
          '--namespace',
          server.namespace,
          '--address',
          server.address,
          '--output',
          'json',
        ]).toString();
        const file = path.join(__dirname, '..', 'test', 'histories', `${name}.json`);
        writeFileSync(file, json);
        const events = (JSON.parse(json) as { events: unknown[] }).events.length;
        process.stdout.write(`${name}: ${result.status}, ${events} events -> ${path.relative(process.cwd(), file)}\n`);
      }
    });
  } finally {
    await client.connection.close();
    await connection.close();
    await server.stop();
    await store.close();
    await embedded.close();
  }
}

run().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
