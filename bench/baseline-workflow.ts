// The benchmark's yardstick: the invoice workflow's shape (activities, one signal, one update) with no logic at all,
// so that ours ÷ baseline isolates what the orchestrator itself costs on the same server and worker settings.
// Like src/workflows, it imports only @temporalio/workflow: nothing heavy in its bundle either.
import { condition, defineQuery, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

export const BASELINE_TASK_QUEUE = 'bench-baseline';
export const BASELINE_WORKFLOW_TYPE = 'baselineWorkflow';

export type BaselineStatus = 'RUNNING' | 'AWAITING_APPROVAL' | 'APPROVED' | 'COMPLETED';

export interface BaselineInput {
  /** No-op activities before the approval (alfred pay-out: KYC, payment method, bank, submit). */
  activitiesBefore: number;
  /** No-op activities after it (alfred pay-out: the approval at the provider). */
  activitiesAfter: number;
}

export interface BaselineResult {
  status: BaselineStatus;
}

export const baselineSignal = defineSignal<[{ eventId: string }]>('providerEvent');
export const baselineApproveUpdate = defineUpdate<BaselineResult, [{ by: string }]>('approve');
export const baselineStatusQuery = defineQuery<BaselineResult>('status');

export interface BaselineActivities {
  noop(input: { step: number }): Promise<Record<string, never>>;
}

export async function baselineWorkflow(input: BaselineInput): Promise<BaselineResult> {
  // The same timeout and retry policy as the invoice workflow's provider calls, so retries would behave alike. Made
  // here, not at module load, because the driver imports this module (in Node) for the message definitions.
  const { noop } = proxyActivities<BaselineActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 12 },
  });
  const state: BaselineResult = { status: 'RUNNING' };
  let signalled = false;
  let approved = false;
  setHandler(baselineSignal, () => {
    signalled = true;
  });
  setHandler(
    baselineApproveUpdate,
    (_decision) => {
      approved = true;
      state.status = 'APPROVED';
      return state;
    },
    {
      validator: (_decision) => {
        if (state.status !== 'AWAITING_APPROVAL') throw new Error(`InvalidState: ${state.status}`);
      },
    },
  );
  setHandler(baselineStatusQuery, () => state);

  let step = 0;
  for (let i = 0; i < input.activitiesBefore; i++) await noop({ step: step++ });
  await condition(() => signalled);
  state.status = 'AWAITING_APPROVAL';
  await condition(() => approved);
  for (let i = 0; i < input.activitiesAfter; i++) await noop({ step: step++ });
  state.status = 'COMPLETED';
  return state;
}
