import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { Config } from '../../src/config';
import { dataConverter } from '../../src/temporal/codec';
import { workflowBundle } from '../../src/temporal/worker';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/** Where a history that did not replay is written, whole, for the next engineer to replay by hand. */
export const UNREPLAYABLE_DIR = path.join(os.tmpdir(), 'payment-orchestrator-unreplayable');

/** One line per event, with what tells commands apart: the update, the local activity, the attributes upserted. */
export function describeEvents(events: readonly HistoryEvent[]): string[] {
  return events.map((e) => {
    const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k as keyof typeof e]) ?? '?';
    const details: string[] = [];
    const failure = e.workflowTaskFailedEventAttributes?.failure?.message;
    if (failure) details.push(failure);
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) details.push(`${accepted.acceptedRequest?.input?.name ?? ''} ${accepted.protocolInstanceId ?? ''}`);
    const completed = e.workflowExecutionUpdateCompletedEventAttributes;
    if (completed) details.push(`${completed.meta?.updateId ?? ''}`);
    const signal = e.workflowExecutionSignaledEventAttributes?.signalName;
    if (signal) details.push(signal);
    const marker = e.markerRecordedEventAttributes;
    if (marker) details.push(marker.markerName ?? '');
    const upsert = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    if (upsert) details.push(Object.keys(upsert).join(','));
    const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) details.push(activity);
    return `${e.eventId?.toString() ?? ''}:${key.replace('EventAttributes', '')}${details.length ? `(${details.join(' ')})` : ''}`;
  });
}

/**
 * Replays histories the running stack wrote, with the workflow code that wrote them. A workflow whose cached run
 * issued commands its replay does not issue again stalls the first time a worker has to rebuild it (a restart, an
 * eviction); this finds it on every invoice, not only on the ones a kill happened to hit. Returns the failures, one per
 * workflow: its id, the replay's error and its events; each failing history is also written out whole.
 */
export async function unreplayable(
  config: Config,
  handles: readonly Pick<WorkflowHandle, 'workflowId' | 'fetchHistory'>[],
): Promise<string[]> {
  const fetched = await Promise.all(
    handles.map(async (handle) => ({ workflowId: handle.workflowId, history: await handle.fetchHistory() })),
  );
  // workflowBundle() bundles once per process.
  const options = { workflowBundle: await workflowBundle(), dataConverter: dataConverter(config) };
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(options, fetched)) {
    if (!result.error) continue;
    const { history } = fetched.find((f) => f.workflowId === result.workflowId) ?? { history: undefined };
    mkdirSync(UNREPLAYABLE_DIR, { recursive: true });
    const file = path.join(UNREPLAYABLE_DIR, `${result.workflowId}.json`);
    if (history) writeFileSync(file, historyToJSON(history));
    failures.push(
      `${result.workflowId} (${file}): ${String(result.error)}\n  ${describeEvents(history?.events ?? []).join('\n  ')}`,
    );
  }
  return failures;
}
