import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DELIVERED_MAX_ENTRIES, DeliveredEvents } from '../../src/gateway/delivered-events';
import { ALFRED_RETRY_HORIZON_MS } from '../../src/providers/alfred/webhook';
import { alreadyAnsweredVerdict } from '../../src/gateway/webhooks';
import { ALREADY_ANSWERED } from '../../src/workflows/definitions';

describe('delivered-event memory', () => {
  it('remembers an event for its time to live, then forgets it', () => {
    let now = 1_000;
    const memory = new DeliveredEvents(600_000, 10, () => now);
    const key = DeliveredEvents.key('xprizo', 'evt-1');
    expect(memory.has(key)).toBe(false);
    memory.remember(key);
    expect(memory.has(key)).toBe(true);
    expect(memory.has(DeliveredEvents.key('bitfinex', 'evt-1'))).toBe(false);
    now += 599_999;
    expect(memory.has(key)).toBe(true);
    now += 1;
    expect(memory.has(key)).toBe(false);
    expect(memory.size).toBe(0);
  });

  it("by default remembers across alfred's whole retry horizon, and is bounded", () => {
    let now = 0;
    const memory = new DeliveredEvents(undefined, undefined, () => now);
    memory.remember('alfred:replay:l:sig');
    now = ALFRED_RETRY_HORIZON_MS - 1;
    expect(memory.has('alfred:replay:l:sig')).toBe(true);
    for (let i = 0; i < DELIVERED_MAX_ENTRIES; i++) memory.remember(`k${i}`);
    expect(memory.size).toBe(DELIVERED_MAX_ENTRIES);
    expect(memory.has('alfred:replay:l:sig')).toBe(false);
  });

  it('holds at most its bound, forgetting the oldest first', () => {
    let now = 0;
    const memory = new DeliveredEvents(600_000, 3, () => now);
    for (const id of ['a', 'b', 'c', 'd']) {
      now += 1;
      memory.remember(id);
    }
    expect(memory.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((id) => memory.has(id))).toEqual([false, true, true, true]);
    // Remembering again refreshes: b becomes the newest, so c is the next to go.
    memory.remember('b');
    memory.remember('e');
    expect(['b', 'c', 'd', 'e'].map((id) => memory.has(id))).toEqual([true, false, true, true]);
  });
});

describe('alreadyAnsweredVerdict', () => {
  const failed = (message: string) =>
    new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ message }));

  it("reads the verdict from the validator's refusal", () => {
    expect(alreadyAnsweredVerdict(failed(`${ALREADY_ANSWERED}: accept`))).toBe('accept');
    expect(alreadyAnsweredVerdict(failed(`${ALREADY_ANSWERED}: reject (invoice REJECTED)`))).toBe('reject');
  });

  it('ignores every other failure', () => {
    expect(alreadyAnsweredVerdict(failed(`${ALREADY_ANSWERED}: undecided`))).toBeUndefined();
    expect(alreadyAnsweredVerdict(failed(`${ALREADY_ANSWERED}: acceptable`))).toBeUndefined();
    expect(alreadyAnsweredVerdict(failed('InvalidState: accept'))).toBeUndefined();
    expect(alreadyAnsweredVerdict(new Error(`${ALREADY_ANSWERED}: accept`))).toBeUndefined();
    expect(alreadyAnsweredVerdict(undefined)).toBeUndefined();
    expect(alreadyAnsweredVerdict(new WorkflowUpdateFailedError(`${ALREADY_ANSWERED}: reject`, undefined))).toBe(
      'reject',
    );
  });
});
