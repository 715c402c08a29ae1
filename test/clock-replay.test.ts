import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { dataConverter } from '../src/temporal/codec';
import { workflowBundle } from '../src/temporal/worker';
import { REPLAY_SAFE_PATCH } from '../src/workflows/invoice-workflow';
import { seededRandom } from './support/random';

const dir = path.join(__dirname, 'histories');
const SEED = Number(process.env.PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));

interface JsonEvent {
  eventType: string;
  eventTime: string;
  markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> };
}

/**
 * The same history with each workflow task started later than it was, by up to a day more per task: what a worker
 * reads as the task's time (the SDK's `Date`) moves, and nothing the workflow did. On replay a worker may see another
 * task's time than the first run did; an invoice that took a decision on it would take another one here.
 */
function withTasksStartedLater(json: string, random: () => number): string {
  const history = JSON.parse(json) as { events: JsonEvent[] };
  let lateMs = 0;
  for (const event of history.events) {
    if (event.eventType === 'EVENT_TYPE_WORKFLOW_TASK_STARTED') lateMs += Math.floor(random() * 86_400_000);
    event.eventTime = new Date(Date.parse(event.eventTime) + lateMs).toISOString();
  }
  return JSON.stringify(history);
}

/** True if the history's first run took the patch: a `core_patch` marker whose data names it. */
function tookReplaySafePatch(json: string): boolean {
  const { events } = JSON.parse(json) as { events: JsonEvent[] };
  return events.some((event) => {
    const marker = event.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0]?.data : undefined;
    return (
      data !== undefined &&
      (JSON.parse(Buffer.from(data, 'base64').toString()) as { id?: string }).id === REPLAY_SAFE_PATCH
    );
  });
}

describe('the invoice clock', () => {
  it(`replays with every task's time moved, once invoices decide on recorded time (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
    const histories = files.map((file) => ({ file, json: readFileSync(path.join(dir, file), 'utf8') }));
    const clocked = histories.filter(({ json }) => tookReplaySafePatch(json));
    // The polling invoice of the release before: its waits decided on the task's time.
    const control = histories.filter(({ file }) => file === 'ms1-payone-polled-and-captured.json');
    expect(clocked.length).toBeGreaterThanOrEqual(6);
    expect(control).toHaveLength(1);
    const shifted = [...clocked, ...control].map(({ file, json }) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(withTasksStartedLater(json, random))),
    }));
    const options = {
      workflowBundle: await workflowBundle(),
      dataConverter: dataConverter(loadConfig({ NODE_ENV: 'test' })),
    };
    const failed = new Map<string, string>();
    for await (const result of Worker.runReplayHistories(options, shifted)) {
      if (result.error) failed.set(result.workflowId, String(result.error));
    }
    // The shift reaches decisions: the history whose waits read the task's time no longer replays.
    expect(failed.has('ms1-payone-polled-and-captured')).toBe(true);
    failed.delete('ms1-payone-polled-and-captured');
    expect({ seed: SEED, failed: [...failed] }).toEqual({ seed: SEED, failed: [] });
  });
});
