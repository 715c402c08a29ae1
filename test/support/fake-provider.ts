import { ApplicationFailure } from '@temporalio/common';
import type { ProviderName, ProviderStatus } from '../../src/domain/constants';
import type {
  CompensationInput,
  ForceCompleteResult,
  ForceCompleteStepInput,
  ProviderAdapter,
  ProviderRegistry,
  StatusResult,
  StepInput,
  StepResult,
} from '../../src/providers/types';
import type { ProviderEvent } from '../../src/workflows/definitions';

type Step = 'kyc' | 'paymentMethod' | 'bank' | 'submit' | 'approveAtProvider' | 'complete' | 'forceComplete';

/** Scripted behaviour for one step: fail the first N attempts, or refuse for good. */
export interface StepScript {
  transientFailures?: number;
  refuse?: { type: string; message: string };
  delayMs?: number;
}

/**
 * An in-memory provider double for workflow tests: it counts every call and every completed call per invoice, and
 * answers status polls from a table the test sets.
 */
export class FakeProvider implements ProviderAdapter {
  readonly calls: { step: string; invoiceId: string; key: string }[] = [];
  readonly completed = new Map<string, number>();
  readonly compensations: { invoiceId: string; action: string }[] = [];
  readonly statuses = new Map<string, ProviderStatus>();
  readonly scripts = new Map<string, StepScript>();
  /** Invoices whose status the provider cannot give (every poll answers 503). */
  readonly statusUnavailable = new Set<string>();
  /** Called after each step completes (a worker in another process writes these to a ledger file). */
  onCompleted?: (invoiceId: string, step: string) => void;
  /** Holds every compensation this long, so a test can act while an invoice is being cancelled. */
  compensationDelayMs = 0;
  /** Holds every status answer this long, so a test can act while the invoice is looking at its provider. */
  fetchStatusDelayMs = 0;
  private readonly attempts = new Map<string, number>();

  constructor(readonly name: ProviderName) {}

  script(invoiceId: string, step: Step, script: StepScript): void {
    this.scripts.set(`${invoiceId}:${step}`, script);
  }

  completedCount(invoiceId: string, step: Step): number {
    return this.completed.get(`${invoiceId}:${step}`) ?? 0;
  }

  private async step(step: Step, input: StepInput, result: StepResult): Promise<StepResult> {
    const key = `${input.invoice.invoiceId}:${step}`;
    this.calls.push({ step, invoiceId: input.invoice.invoiceId, key: input.idempotencyKey });
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const script = this.scripts.get(key);
    if (script?.delayMs) await new Promise((resolve) => setTimeout(resolve, script.delayMs));
    if (script?.refuse) throw ApplicationFailure.nonRetryable(script.refuse.message, script.refuse.type);
    if (script?.transientFailures && attempt <= script.transientFailures) {
      throw ApplicationFailure.retryable(`provider answered 503 (attempt ${attempt})`, 'ProviderUnavailable');
    }
    this.completed.set(key, (this.completed.get(key) ?? 0) + 1);
    this.onCompleted?.(input.invoice.invoiceId, step);
    return result;
  }

  kyc = (input: StepInput) => this.step('kyc', input, { refs: { kycUser: `kyc-${input.invoice.customer.id}` } });
  paymentMethod = (input: StepInput) => this.step('paymentMethod', input, {});
  bank = (input: StepInput) => this.step('bank', input, { refs: { bankId: 'bank-1' } });
  submit = (input: StepInput) =>
    this.step('submit', input, {
      refs: { transactionId: `tx-${input.invoice.invoiceId}` },
      providerStatus: 'pending',
      compensation: 'cancel_transaction',
    });
  approveAtProvider = (input: StepInput) => this.step('approveAtProvider', input, { providerStatus: 'approved' });
  complete = (input: StepInput) => this.step('complete', input, { providerStatus: 'settled' });
  /** Bitfinex's completion by hand: settled and marked forced. */
  forceComplete = async (input: ForceCompleteStepInput): Promise<ForceCompleteResult> => ({
    ...(await this.step('forceComplete', input, { providerStatus: 'settled' })),
    forced: true,
  });

  async compensate(input: CompensationInput): Promise<StepResult> {
    if (this.compensationDelayMs) await new Promise((resolve) => setTimeout(resolve, this.compensationDelayMs));
    this.compensations.push({ invoiceId: input.invoice.invoiceId, action: input.action });
    return {};
  }

  async fetchStatus(input: StepInput): Promise<StatusResult> {
    const { invoiceId } = input.invoice;
    this.calls.push({ step: 'fetchStatus', invoiceId, key: input.idempotencyKey });
    if (this.fetchStatusDelayMs) await new Promise((resolve) => setTimeout(resolve, this.fetchStatusDelayMs));
    if (this.statusUnavailable.has(invoiceId)) {
      throw ApplicationFailure.retryable('provider status unavailable (503)', 'ProviderUnavailable');
    }
    const status = this.statuses.get(invoiceId) ?? 'pending';
    // Like a real provider's report: the object's reference, and its undo while it is still open.
    return {
      status,
      refs: { transactionId: `tx-${invoiceId}` },
      ...(status === 'pending' ? { compensation: 'cancel_transaction' } : {}),
    };
  }
}

export function fakeRegistry(): { registry: ProviderRegistry; fakes: Record<ProviderName, FakeProvider> } {
  const fakes = {
    alfred: new FakeProvider('alfred'),
    payone: new FakeProvider('payone'),
    xprizo: new FakeProvider('xprizo'),
    bitfinex: new FakeProvider('bitfinex'),
  };
  return { registry: fakes, fakes };
}

/**
 * A provider event as the gateway would deliver it for an invoice run by the fake providers: its provider, and the
 * reference the fake's submit hands the invoice.
 */
export function fakeEvent(
  invoice: { invoiceId: string; provider: ProviderName },
  eventId: string,
  status: ProviderStatus,
  detail?: string,
): ProviderEvent {
  return {
    eventId,
    status,
    provider: invoice.provider,
    ref: { key: 'transactionId', value: `tx-${invoice.invoiceId}` },
    ...(detail ? { detail } : {}),
  };
}
