import { GATEWAY_METRICS, WORKER_METRICS } from '../../src/domain/metric-names';
import { dashboardMetrics, readDashboard } from './dashboard';

describe('Grafana dashboard', () => {
  it('reads every metric we count, all through the Prometheus datasource compose provisions', () => {
    const dashboard = readDashboard();
    const queried = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(queried.length).toBeGreaterThanOrEqual(8);
    for (const panel of queried) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: 'prometheus' });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.datasource.uid).toBe('prometheus');
    }
    const names = dashboardMetrics();
    for (const name of [...Object.values(WORKER_METRICS), ...Object.values(GATEWAY_METRICS)]) {
      expect({ name, shown: names.has(name) }).toEqual({ name, shown: true });
    }
  });
});
