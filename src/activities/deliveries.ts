import type { ActivityDeps } from './index';

/** The activities of outgoing webhook deliveries (issue 13, part 2). */
export function deliveryActivities(_deps: ActivityDeps) {
  return {};
}
