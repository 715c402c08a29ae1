import { createInvoiceClient, InvoiceStateError, InvalidInvoiceRequestError, NotAllowedError } from '../src/client';
import type { ProviderName } from '../src/domain/constants';
import { providerEventSignal } from '../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from './support/fake-provider';
import { invoiceRequest } from './support/requests';
import { FAST_TIMING, startTestEnv, type TestEnv } from './support/temporal-env';
import { eventually, waitForStatus } from './support/wait';

type Invoice = { invoiceId: string; provider: ProviderName };

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<TestEnv['invoices']['handle']>['fetchHistory']>>['events']
>[number];

/** The InvoiceStatus an upsert wrote, or undefined for any other event. */
function upsertedStatus(event: HistoryEvent): string | undefined {
  const data =
    event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.InvoiceStatus?.data;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as string) : undefined;
}

function scheduledActivities(events: HistoryEvent[]): string[] {
  return events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
}

describe('the invoice workflow', () => {
  const { registry, fakes } = fakeRegistry();
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
  });
  afterAll(async () => env?.stop());

  const settle = (invoice: Invoice, eventId = `settle-${invoice.invoiceId}`) =>
    env.invoices.handle(invoice.invoiceId).signal(providerEventSignal, fakeEvent(invoice, eventId, 'settled'));

  describe('happy paths', () => {
    it('completes a pay-in and a pay-out, and finds both by InvoiceStatus in visibility', async () => {
      const payIn = invoiceRequest({
        direction: 'pay_in',
        customer: { ...invoiceRequest().customer, id: 'cus_visible' },
      });
      const payOut = invoiceRequest({
        direction: 'pay_out',
        customer: { ...invoiceRequest().customer, id: 'cus_visible' },
        approval: { required: true, approvers: ['ops@acme'], timeoutSeconds: 600 },
      });
      await env.invoices.startInvoice(payIn);
      await env.invoices.startInvoice(payOut);

      await settle(payIn);
      expect((await env.invoices.waitForResult(payIn.invoiceId)).status).toBe('COMPLETED');

      // alfred pay-out: alfred asks for approval, the service approves, we approve at alfred, alfred settles.
      const payOutHandle = env.invoices.handle(payOut.invoiceId);
      await payOutHandle.signal(providerEventSignal, fakeEvent(payOut, 'alfred-ask-1', 'approval_requested'));
      await waitForStatus(env.invoices, payOut.invoiceId, 'AWAITING_APPROVAL');
      const approved = await env.invoices.approveInvoice(payOut.invoiceId, { by: 'ops@acme' });
      expect(['APPROVED', 'AWAITING_SETTLEMENT']).toContain(approved.status);
      await settle(payOut);
      const done = await env.invoices.waitForResult(payOut.invoiceId);
      expect(done.status).toBe('COMPLETED');
      expect(done.transitions.map((t) => t.status)).toEqual([
        'CREATED',
        'KYC_PENDING',
        'KYC_APPROVED',
        'PAYMENT_METHOD_READY',
        'BANK_READY',
        'SUBMITTED',
        'AWAITING_APPROVAL',
        'APPROVED',
        'AWAITING_SETTLEMENT',
        'COMPLETED',
      ]);
      expect(done.providerRefs.transactionId).toBe(`tx-${payOut.invoiceId}`);
      expect(fakes.alfred.completedCount(payOut.invoiceId, 'approveAtProvider')).toBe(1);

      const listed = await eventually(async () => {
        const { invoices } = await env.invoices.listInvoices({ status: 'COMPLETED', customerId: 'cus_visible' });
        const ids = invoices.map((invoice) => invoice.invoiceId);
        return ids.includes(payIn.invoiceId) && ids.includes(payOut.invoiceId) ? invoices : undefined;
      });
      expect(listed.find((i) => i.invoiceId === payOut.invoiceId)).toMatchObject({
        status: 'COMPLETED',
        provider: 'alfred',
        amount: 12500,
        currency: 'USD',
      });
    });

    it('runs an alfred pay-out on one timer, no local activity and one upsert per workflow task that moved it', async () => {
      const request = invoiceRequest({
        direction: 'pay_out',
        approval: { required: true, approvers: [], timeoutSeconds: 600 },
      });
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'SUBMITTED');
      const handle = env.invoices.handle(request.invoiceId);
      await handle.signal(providerEventSignal, fakeEvent(request, 'ask', 'approval_requested'));
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
      await env.invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' });
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
      await settle(request);
      expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');

      const events = (await handle.fetchHistory()).events ?? [];
      // The webhook wait, the decision and settlement all ended before the first poll was due: one alarm served them.
      expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);
      // The setup steps are ordinary activities (patch replay-safe-1): a local activity's answer can reach a later
      // workflow task than the one that ran it, and its history then does not replay.
      expect(scheduledActivities(events)).toEqual(['kyc', 'paymentMethod', 'bank', 'submit', 'approveAtProvider']);
      expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toEqual([]);
      // Each workflow task ended in a new status: one per setup step, submitted, awaiting approval, approved, awaiting
      // settlement, completed.
      expect(events.flatMap((e) => upsertedStatus(e) ?? [])).toEqual([
        'KYC_PENDING',
        'KYC_APPROVED',
        'PAYMENT_METHOD_READY',
        'BANK_READY',
        'SUBMITTED',
        'AWAITING_APPROVAL',
        'APPROVED',
        'AWAITING_SETTLEMENT',
        'COMPLETED',
      ]);
    });

    it('finds an invoice by a provider reference, asking visibility only the first time', async () => {
      const request = invoiceRequest();
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
      const list = jest.spyOn(env.temporal.workflow, 'list');
      try {
        const transactionId = `tx-${request.invoiceId}`;
        const first = await eventually(() => env.invoices.findInvoiceByProviderRef('transactionId', transactionId));
        const queriesForFirst = list.mock.calls.length;
        expect(first).toBe(request.invoiceId);
        expect(await env.invoices.findInvoiceByProviderRef('transactionId', transactionId)).toBe(request.invoiceId);
        expect(list.mock.calls.length).toBe(queriesForFirst);
        expect(await env.invoices.findInvoiceByProviderRef('transactionId', 'tx-nobody')).toBeUndefined();
        expect(list.mock.calls.length).toBe(queriesForFirst + 1);
      } finally {
        list.mockRestore();
      }
    });

    it('starts an invoice once per id: the same request again returns it, another request is refused', async () => {
      const request = invoiceRequest();
      expect((await env.invoices.startInvoice(request)).created).toBe(true);
      expect((await env.invoices.startInvoice(request)).created).toBe(false);
      await expect(env.invoices.startInvoice({ ...request, amount: 999 })).rejects.toMatchObject({
        type: 'InvoiceConflict',
      });
    });

    it('refuses invalid input before any workflow starts, naming the fields', async () => {
      const bad = { ...invoiceRequest(), amount: 12.5, currency: 'XXX', customer: { id: 'c' } };
      const error = await env.invoices.startInvoice(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInvoiceRequestError);
      const paths = (error as InvalidInvoiceRequestError).issues.map((issue) => issue.path);
      expect(paths).toEqual(expect.arrayContaining(['amount', 'currency', 'customer.email']));
      await expect(env.invoices.getInvoice(bad.invoiceId)).rejects.toMatchObject({ type: 'InvoiceNotFound' });
    });

    it('refuses what the provider would refuse later, naming each field its requirements miss', async () => {
      const customer = { ...invoiceRequest().customer, phone: undefined, birthday: undefined };
      const alfredPayOut = invoiceRequest({ direction: 'pay_out', customer, bank: undefined });
      const xprizo = invoiceRequest({ provider: 'xprizo', paymentMethod: { type: 'wallet' } });
      const payoneOut = invoiceRequest({ provider: 'payone', direction: 'pay_out' });
      const expected = [
        [alfredPayOut, ['customer.phone', 'customer.birthday', 'bank']],
        [xprizo, ['paymentMethod.walletAccountId']],
        [payoneOut, ['direction']],
      ] as const;
      for (const [request, paths] of expected) {
        const error = await env.invoices.startInvoice(request).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidInvoiceRequestError);
        expect((error as InvalidInvoiceRequestError).issues.map((issue) => issue.path)).toEqual(paths);
        await expect(env.invoices.getInvoice(request.invoiceId)).rejects.toMatchObject({ type: 'InvoiceNotFound' });
      }
    });
  });

  describe('approval', () => {
    const needsApproval = () =>
      invoiceRequest({
        provider: 'xprizo',
        approval: { required: true, approvers: ['ops@acme'], timeoutSeconds: 600 },
      });

    it('takes an approval once when asked twice', async () => {
      const request = needsApproval();
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
      const [first, second] = await Promise.all([
        env.invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' }),
        env.invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' }),
      ]);
      expect(first.approval?.by).toBe('ops@acme');
      expect(second.approval?.at).toBe(first.approval?.at);
      const state = await env.invoices.getInvoice(request.invoiceId);
      expect(state.transitions.filter((t) => t.status === 'APPROVED')).toHaveLength(1);
    });

    it('refuses a party that may not approve, and an approval after a cancel, writing nothing', async () => {
      const request = needsApproval();
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
      const handle = env.invoices.handle(request.invoiceId);
      // A refused Update writes no event; the compensation running meanwhile writes its own, so only Updates count.
      const updatesWritten = async () =>
        (await handle.fetchHistory()).events?.filter(
          (event) =>
            event.workflowExecutionUpdateAcceptedEventAttributes ||
            event.workflowExecutionUpdateCompletedEventAttributes,
        ).length;

      let before = await updatesWritten();
      await expect(env.invoices.approveInvoice(request.invoiceId, { by: 'intern@acme' })).rejects.toThrow(
        new NotAllowedError('NotAllowed: intern@acme may not approve this invoice'),
      );
      expect(await updatesWritten()).toBe(before);

      // While the cancellation is undoing the submission at the provider, the validator refuses an approval.
      fakes.xprizo.compensationDelayMs = 1500;
      await handle.signal('cancelSignal', { by: 'ops@acme', reason: 'customer left' });
      await waitForStatus(env.invoices, request.invoiceId, (s) => s.waitingFor?.startsWith('undo') ?? false);
      before = await updatesWritten();
      const refused = await env.invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(InvoiceStateError);
      expect((refused as Error).message).toBe('InvalidState: invoice is being cancelled');
      expect(await updatesWritten()).toBe(before);

      const cancelled = await env.invoices.waitForResult(request.invoiceId);
      fakes.xprizo.compensationDelayMs = 0;
      expect(cancelled.status).toBe('CANCELLED');
      expect(cancelled.approval).toBeUndefined();
      expect(cancelled.compensations).toEqual([
        expect.objectContaining({ action: 'cancel_transaction', outcome: 'done' }),
      ]);
      // Once it has ended, the client says in which state.
      await expect(env.invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' })).rejects.toThrow(
        'InvalidState: invoice is already CANCELLED',
      );
    });

    it('answers a cancel with the final state once the provider side is undone', async () => {
      const request = needsApproval();
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
      const cancelled = await env.invoices.cancelInvoice(request.invoiceId, {
        by: 'ops@acme',
        reason: 'customer left',
      });
      expect(cancelled.status).toBe('CANCELLED');
      expect(cancelled.transitions.at(-1)?.note).toBe('approval: customer left; undone: cancel_transaction');
    });

    it('expires when nobody decides before the deadline, and undoes the submission once', async () => {
      const request = invoiceRequest({
        provider: 'xprizo',
        approval: { required: true, approvers: [], timeoutSeconds: 2 },
      });
      await env.invoices.startInvoice(request);
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('EXPIRED');
      expect(result.transitions.at(-1)?.note).toContain('undone: cancel_transaction');
      expect(fakes.xprizo.compensations.filter((c) => c.invoiceId === request.invoiceId)).toEqual([
        { invoiceId: request.invoiceId, action: 'cancel_transaction' },
      ]);
    });

    it('ends CANCELLED when an operator cancels the workflow itself, undoing the submission', async () => {
      const request = needsApproval();
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
      await env.invoices.handle(request.invoiceId).cancel();
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('CANCELLED');
      expect(result.transitions.at(-1)?.note).toBe(
        'approval: the workflow was cancelled through Temporal; undone: cancel_transaction',
      );
      expect(fakes.xprizo.compensations.filter((c) => c.invoiceId === request.invoiceId)).toEqual([
        { invoiceId: request.invoiceId, action: 'cancel_transaction' },
      ]);
    });

    it('takes the decision as a signal too, for callers that cannot wait', async () => {
      const request = needsApproval();
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');
      await env.invoices.handle(request.invoiceId).signal('rejectSignal', { by: 'ops@acme', reason: 'fraud check' });
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('REJECTED');
      expect(result.approval).toMatchObject({ decision: 'rejected', by: 'ops@acme', reason: 'fraud check' });
    });
  });

  describe('provider events', () => {
    it('applies an event delivered twice once', async () => {
      const request = invoiceRequest({ provider: 'bitfinex' });
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
      const handle = env.invoices.handle(request.invoiceId);
      await handle.signal(providerEventSignal, fakeEvent(request, 'bfx-1:COMPLETED', 'settled'));
      await handle.signal(providerEventSignal, fakeEvent(request, 'bfx-1:COMPLETED', 'settled'));
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('COMPLETED');
      expect(result.eventsApplied).toBe(1);
      // The duplicate may arrive after the invoice completed; either way it had no effect.
      expect(result.transitions.filter((t) => t.status === 'COMPLETED')).toHaveLength(1);
    });

    it('keeps an event that arrives before its step and applies it when the step comes', async () => {
      // Bitfinex's submission is a normal activity, so the invoice is visibly still at it when the event arrives.
      const request = invoiceRequest({ provider: 'bitfinex' });
      fakes.bitfinex.script(request.invoiceId, 'submit', { delayMs: 1500 });
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, (s) => s.waitingFor === 'submission');
      await env.invoices.handle(request.invoiceId).signal(providerEventSignal, fakeEvent(request, 'paid-1', 'settled'));
      // Its reference comes with the submission's answer: until then the event is held, not applied or dropped.
      const early = await env.invoices.getInvoice(request.invoiceId);
      expect(early.status).toBe('CREATED');
      expect(early.eventsApplied).toBe(0);
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('COMPLETED');
      expect(result.eventsApplied).toBe(1);
      expect(fakes.bitfinex.completedCount(request.invoiceId, 'submit')).toBe(1);
    });

    it('applies events that overtook each other, each once', async () => {
      const request = invoiceRequest({ provider: 'alfred', direction: 'pay_out' });
      fakes.alfred.script(request.invoiceId, 'kyc', { delayMs: 1500 });
      await env.invoices.startInvoice(request);
      const handle = env.invoices.handle(request.invoiceId);
      // alfred's settlement and its approval request both arrive while KYC is still running, settlement first.
      await handle.signal(providerEventSignal, fakeEvent(request, 'settled-1', 'settled'));
      await handle.signal(providerEventSignal, fakeEvent(request, 'ask-1', 'approval_requested'));
      await handle.signal(providerEventSignal, fakeEvent(request, 'settled-1', 'settled'));
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('COMPLETED');
      expect(result.eventsApplied).toBe(2);
      expect(result.eventsIgnored).toBe(1);
      expect(fakes.alfred.completedCount(request.invoiceId, 'approveAtProvider')).toBe(1);
    });

    it('goes on in a new run when a long wait passes its history budget, keeping all it knew', async () => {
      const patient = createInvoiceClient({
        client: env.temporal,
        timing: { ...FAST_TIMING, pollAfterSeconds: 1, historyBudgetEvents: 30 },
      });
      const request = invoiceRequest({ provider: 'bitfinex' });
      await patient.startInvoice(request);
      const handle = env.invoices.handle(request.invoiceId);
      // Polls keep finding the invoice pending until the history passes 30 events and a new run takes over.
      const previousRun = await eventually(async () => {
        const history = await handle.fetchHistory();
        return history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
      }, 60_000);
      expect(previousRun).toMatch(/./);
      await handle.signal(providerEventSignal, fakeEvent(request, 'paid-after-continue', 'settled'));
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('COMPLETED');
      expect(result.transitions.map((t) => t.status)).toEqual([
        'CREATED',
        'SUBMITTED',
        'APPROVED',
        'AWAITING_SETTLEMENT',
        'COMPLETED',
      ]);
      expect(result.eventsApplied).toBe(1);
      expect(fakes.bitfinex.completedCount(request.invoiceId, 'submit')).toBe(1);
    });

    it('asks the provider when the webhook never comes', async () => {
      const request = invoiceRequest({ provider: 'payone' });
      fakes.payone.statuses.set(request.invoiceId, 'authorized');
      await env.invoices.startInvoice(request);
      // PayOne has no callback: pre-authorization is found by polling, completion settles it.
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('COMPLETED');
      expect(
        fakes.payone.calls.filter((c) => c.invoiceId === request.invoiceId && c.step === 'fetchStatus').length,
      ).toBeGreaterThan(0);
      expect(fakes.payone.completedCount(request.invoiceId, 'complete')).toBe(1);
    });

    it('ends in the state a provider reports, without undoing what the provider already ended', async () => {
      const request = invoiceRequest({ provider: 'bitfinex' });
      await env.invoices.startInvoice(request);
      await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
      await env.invoices
        .handle(request.invoiceId)
        .signal(providerEventSignal, fakeEvent(request, 'bfx-2:EXPIRED', 'expired', 'invoice expired'));
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('EXPIRED');
      expect(result.compensations).toEqual([]);
    });
  });

  describe('failures', () => {
    it('recovers from retryable provider errors', async () => {
      const request = invoiceRequest({ provider: 'xprizo' });
      fakes.xprizo.script(request.invoiceId, 'submit', { transientFailures: 2 });
      await env.invoices.startInvoice(request);
      await settle(request);
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('COMPLETED');
      expect(fakes.xprizo.calls.filter((c) => c.invoiceId === request.invoiceId && c.step === 'submit')).toHaveLength(
        3,
      );
      expect(fakes.xprizo.completedCount(request.invoiceId, 'submit')).toBe(1);
    });

    it('retries a setup step that fails at the provider as an activity, indexing its status first', async () => {
      const request = invoiceRequest({ provider: 'alfred', direction: 'pay_in' });
      // Two attempts fail, the third succeeds: one activity, retried by its policy.
      fakes.alfred.script(request.invoiceId, 'kyc', { transientFailures: 2 });
      await env.invoices.startInvoice(request);
      await settle(request);
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('COMPLETED');
      expect(fakes.alfred.calls.filter((c) => c.invoiceId === request.invoiceId && c.step === 'kyc')).toHaveLength(3);
      expect(fakes.alfred.completedCount(request.invoiceId, 'kyc')).toBe(1);

      const events = (await env.invoices.handle(request.invoiceId).fetchHistory()).events ?? [];
      expect(scheduledActivities(events).filter((name) => name === 'kyc')).toEqual(['kyc']);
      const kycScheduled = events.findIndex(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'kyc',
      );
      const lastUpsertBefore = events
        .slice(0, kycScheduled)
        .flatMap((e) => upsertedStatus(e) ?? [])
        .at(-1);
      expect(lastUpsertBefore).toBe('KYC_PENDING');
    });

    it('ends in FAILED at once when a setup step is refused', async () => {
      const request = invoiceRequest({ provider: 'alfred', direction: 'pay_in' });
      fakes.alfred.script(request.invoiceId, 'bank', {
        refuse: { type: 'InvalidBankAccount', message: 'alfred refused (400): unknown bank code' },
      });
      await env.invoices.startInvoice(request);
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('FAILED');
      expect(result.failure).toMatchObject({ step: 'bank', type: 'InvalidBankAccount' });
      expect(fakes.alfred.calls.filter((c) => c.invoiceId === request.invoiceId && c.step === 'bank')).toHaveLength(1);
    });

    it('ends in FAILED with the step and the reason on a non-retryable refusal, undoing what exists', async () => {
      const request = invoiceRequest({ provider: 'alfred', direction: 'pay_out' });
      fakes.alfred.script(request.invoiceId, 'approveAtProvider', {
        refuse: { type: 'InsufficientFunds', message: 'alfred refused (422): balance too low' },
      });
      await env.invoices.startInvoice(request);
      await env.invoices
        .handle(request.invoiceId)
        .signal(providerEventSignal, fakeEvent(request, 'ask', 'approval_requested'));
      const result = await env.invoices.waitForResult(request.invoiceId);
      expect(result.status).toBe('FAILED');
      expect(result.failure).toMatchObject({
        step: 'approveAtProvider',
        type: 'InsufficientFunds',
        message: 'alfred refused (422): balance too low',
      });
      expect(
        fakes.alfred.calls.filter((c) => c.invoiceId === request.invoiceId && c.step === 'approveAtProvider'),
      ).toHaveLength(1);
      expect(result.compensations).toEqual([
        expect.objectContaining({ action: 'cancel_transaction', outcome: 'done' }),
      ]);
      const status = await env.invoices.getInvoice(request.invoiceId);
      expect(status.failure?.step).toBe('approveAtProvider');
    });
  });
});
