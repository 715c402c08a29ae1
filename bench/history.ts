import type { History } from '@temporalio/common/lib/proto-utils';

type HistoryEvent = NonNullable<History['events']>[number];

/**
 * The event's type, read from the one `…EventAttributes` field it carries (`WorkflowExecutionStarted`, …), so no
 * protobuf enum table is needed.
 */
export function eventTypeName(event: HistoryEvent): string {
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventAttributes') && value) {
      const name = key.slice(0, -'EventAttributes'.length);
      return name.charAt(0).toUpperCase() + name.slice(1);
    }
  }
  return 'Unknown';
}

/** Marker names the TypeScript SDK (through sdk-core) writes: a local activity's result, and a `patched()` call. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
/** The search attribute the SDK writes beside each patch marker; Temporal Cloud does not bill its upserts. */
const CHANGE_VERSION_ATTRIBUTE = 'TemporalChangeVersion';

/** What billing needs to remember within one workflow task: Temporal Cloud bills its local activities together. */
export interface WorkflowTaskBilling {
  localActivityBilled: boolean;
}

/**
 * Temporal Cloud's billable actions, by its Actions page, for the ones a history shows:
 * - activities once per attempt: a retried activity writes one ActivityTaskStarted, carrying the last attempt's
 *   number, and no event per failed attempt;
 * - "all Local Activities associated with one Workflow Task count as a single Action": the markers written with one
 *   workflow task's completion cost one, whatever their number (`task` remembers it; reset it at each
 *   WorkflowTaskCompleted);
 * - a patch marker is not an action, and neither is the SDK's upsert of `TemporalChangeVersion` beside it (the page
 *   exempts that attribute); an upsert of any other attribute is one, however many it writes.
 * Queries leave no event: the driver counts its own.
 */
export function billableActions(event: HistoryEvent, type: string, task: WorkflowTaskBilling): number {
  switch (type) {
    case 'WorkflowExecutionStarted':
    case 'TimerStarted':
    case 'WorkflowExecutionSignaled':
    case 'WorkflowExecutionUpdateAccepted':
    case 'WorkflowPropertiesModified':
    case 'StartChildWorkflowExecutionInitiated':
    case 'SignalExternalWorkflowExecutionInitiated':
    case 'RequestCancelExternalWorkflowExecutionInitiated':
      return 1;
    case 'UpsertWorkflowSearchAttributes': {
      const fields = Object.keys(
        event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
      );
      return fields.some((field) => field !== CHANGE_VERSION_ATTRIBUTE) ? 1 : 0;
    }
    case 'MarkerRecorded': {
      if (event.markerRecordedEventAttributes?.markerName !== LOCAL_ACTIVITY_MARKER || task.localActivityBilled)
        return 0;
      task.localActivityBilled = true;
      return 1;
    }
    case 'ActivityTaskStarted':
      return Math.max(1, event.activityTaskStartedEventAttributes?.attempt ?? 1);
    default:
      return 0;
  }
}

export interface HistoryCounts {
  events: number;
  eventsByType: Record<string, number>;
  actions: number;
  actionsByType: Record<string, number>;
  /** Workflow tasks the worker ran (each is a round trip server → worker → server). */
  workflowTasks: number;
  /** Time between consecutive events, summed by `Previous → Next` type: where an invoice's wall time goes. */
  gapsMs: Record<string, number>;
  /** First event to last. */
  spanMs: number;
}

function eventMs(event: HistoryEvent): number | undefined {
  const time = event.eventTime;
  if (!time) return undefined;
  return Number(time.seconds ?? 0) * 1000 + (time.nanos ?? 0) / 1e6;
}

export function countHistory(history: History): HistoryCounts {
  const counts: HistoryCounts = {
    events: 0,
    eventsByType: {},
    actions: 0,
    actionsByType: {},
    workflowTasks: 0,
    gapsMs: {},
    spanMs: 0,
  };
  let previous: { type: string; at: number } | undefined;
  let first: number | undefined;
  let task: WorkflowTaskBilling = { localActivityBilled: false };
  for (const event of history.events ?? []) {
    const type = eventTypeName(event);
    const at = eventMs(event);
    if (at !== undefined) {
      first ??= at;
      counts.spanMs = at - first;
      if (previous) {
        const key = `${previous.type} → ${type}`;
        counts.gapsMs[key] = (counts.gapsMs[key] ?? 0) + (at - previous.at);
      }
      previous = { type, at };
    }
    counts.events++;
    counts.eventsByType[type] = (counts.eventsByType[type] ?? 0) + 1;
    if (type === 'WorkflowTaskCompleted') {
      counts.workflowTasks++;
      task = { localActivityBilled: false };
    }
    const actions = billableActions(event, type, task);
    if (actions > 0) {
      counts.actions += actions;
      counts.actionsByType[type] = (counts.actionsByType[type] ?? 0) + actions;
    }
  }
  return counts;
}

/** The mean of several histories' counts, per invoice. */
export function meanCounts(all: readonly HistoryCounts[]): HistoryCounts {
  const mean = (pick: (c: HistoryCounts) => number) =>
    all.length ? all.reduce((sum, c) => sum + pick(c), 0) / all.length : 0;
  const meanMap = (pick: (c: HistoryCounts) => Record<string, number>) => {
    const keys = new Set(all.flatMap((c) => Object.keys(pick(c))));
    return Object.fromEntries([...keys].sort().map((key) => [key, mean((c) => pick(c)[key] ?? 0)]));
  };
  return {
    events: mean((c) => c.events),
    eventsByType: meanMap((c) => c.eventsByType),
    actions: mean((c) => c.actions),
    actionsByType: meanMap((c) => c.actionsByType),
    workflowTasks: mean((c) => c.workflowTasks),
    gapsMs: meanMap((c) => c.gapsMs),
    spanMs: mean((c) => c.spanMs),
  };
}
