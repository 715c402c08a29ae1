import type { ActivityDeps } from './index';

/** The activities of reconciliation against the providers' reports (issue 13, part 3). */
export function reconciliationActivities(_deps: ActivityDeps) {
  return {};
}
