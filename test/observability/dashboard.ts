import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const TargetSchema = z.object({ datasource: z.object({ uid: z.string() }), expr: z.string(), refId: z.string() });
const PanelSchema = z.object({
  type: z.string(),
  title: z.string(),
  datasource: z.object({ type: z.string(), uid: z.string() }).optional(),
  targets: z.array(TargetSchema).optional(),
});
const DashboardSchema = z.object({ uid: z.string(), title: z.string(), panels: z.array(PanelSchema) });

export const DASHBOARD_FILE = path.resolve(
  __dirname,
  '..',
  '..',
  'deploy',
  'grafana',
  'dashboards',
  'payment-orchestrator.json',
);

export function readDashboard(): z.output<typeof DashboardSchema> {
  return DashboardSchema.parse(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')));
}

/** The metric names the dashboard's queries read, histogram series reduced to their metric (`_bucket` etc. dropped). */
export function dashboardMetrics(): Set<string> {
  const names = new Set<string>();
  for (const panel of readDashboard().panels) {
    for (const target of panel.targets ?? []) {
      for (const [name] of target.expr.matchAll(/\b(?:payment|temporal)_[a-z_]+\b/g)) {
        names.add(name.replace(/_(bucket|count|sum)$/, ''));
      }
    }
  }
  return names;
}
