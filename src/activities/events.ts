import type { ActivityDeps } from './index';

/** The activities of the event log (issue 13, part 1). */
export function eventActivities(_deps: ActivityDeps) {
  return {};
}
