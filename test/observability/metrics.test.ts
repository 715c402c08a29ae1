import path from 'node:path';
import { driveSample } from '../../src/dev/samples';
import { GATEWAY_METRICS, WORKER_METRICS } from '../../src/domain/metric-names';
import { freePort } from '../../src/temporal/dev-server';
import type { WorkerHealth } from '../../src/temporal/worker-health';
import { dashboardMetrics } from './dashboard';
import { spawnGroup, type Spawned } from '../support/processes';
import { scrape, total, type PromSample } from '../support/prometheus';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';

/**
 * The worker runs in a process of its own, as in production: the SDK runtime (and with it the Prometheus exporter) is
 * installed once per process, and this jest worker's runtime was installed without one.
 */
describe('metrics: the gateway at /metrics and the worker on the SDK Prometheus endpoint', () => {
  let stack: TestStack;
  let worker: Spawned;
  let sdkMetricsUrl: string;
  let healthUrl: string;

  beforeAll(async () => {
    stack = await startTestStack({ workers: false });
    const metricsPort = await freePort();
    const healthPort = await freePort();
    sdkMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    healthUrl = `http://127.0.0.1:${healthPort}/healthz`;
    worker = spawnGroup(path.join('node_modules', '.bin', 'tsx'), ['test/support/worker-process.ts'], {
      STACK_ENV: JSON.stringify({
        ...stack.childEnv,
        TEMPORAL_METRICS_BIND: `127.0.0.1:${metricsPort}`,
        WORKER_HEALTH_PORT: String(healthPort),
      }),
      WORKER_PROVIDERS: 'sandboxes',
      JEST_WORKER_ID: process.env.JEST_WORKER_ID ?? '1',
    });
    await worker.waitFor(/worker ready/, 60_000);
  });
  afterAll(async () => {
    if (worker && worker.child.exitCode === null && worker.child.signalCode === null) {
      process.kill(-(worker.child.pid ?? 0), 'SIGTERM');
      await worker.exited;
    }
    await stack?.stop();
  });

  it('reports the worker healthy while it polls', async () => {
    const health = await eventually(async () => {
      const response = await fetch(healthUrl);
      return response.status === 200 ? ((await response.json()) as WorkerHealth) : undefined;
    });
    expect(health.status).toBe('ok');
    expect(health.workers.map((w) => w.state)).toEqual(health.workers.map(() => 'RUNNING'));
    expect(health.workers.length).toBeGreaterThanOrEqual(2);
  });

  it('moves the counters of one Bitfinex invoice, from its start at the gateway to its end in the workflow', async () => {
    const gatewayMetrics = `${stack.gateway.url}/metrics`;
    const bitfinex = { provider: 'bitfinex' };
    const [gatewayBefore, sdkBefore] = await Promise.all([scrape(gatewayMetrics), scrape(sdkMetricsUrl)]);

    const state = await driveSample(stack.api, { provider: 'bitfinex', direction: 'pay_in', invoiceId: uniqueId('m') });
    expect(state.status).toBe('COMPLETED');

    const gatewayAfter = await scrape(gatewayMetrics);
    const moved = (before: PromSample[], after: PromSample[], name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    expect(moved(gatewayBefore, gatewayAfter, GATEWAY_METRICS.invoicesStarted, bitfinex)).toBe(1);
    // Bitfinex's payment webhook, answered 2xx once the invoice was told to look.
    expect(
      moved(gatewayBefore, gatewayAfter, GATEWAY_METRICS.webhooks, { ...bitfinex, result: 'accepted' }),
    ).toBeGreaterThanOrEqual(1);

    // The SDK exports on its own period: wait until the end is counted, then read every worker metric from that scrape.
    const sdkAfter = await eventually(async () => {
      const samples = await scrape(sdkMetricsUrl);
      const ended = moved(sdkBefore, samples, WORKER_METRICS.invoicesEnded, { ...bitfinex, status: 'COMPLETED' });
      return ended >= 1 ? samples : undefined;
    });
    // At least once, not exactly once: on two busy cores a workflow task that timed out is run again, its last step
    // (and the count) with it, and an activity attempt that timed out is retried and measured again. Nothing else
    // ends or submits in this worker meanwhile, so only those repeats can add to the one.
    const ended = moved(sdkBefore, sdkAfter, WORKER_METRICS.invoicesEnded, { ...bitfinex, status: 'COMPLETED' });
    expect(ended).toBeGreaterThanOrEqual(1);
    expect(ended).toBeLessThanOrEqual(2);
    const calls = `${WORKER_METRICS.providerCallLatency}_count`;
    expect(
      moved(sdkBefore, sdkAfter, calls, { ...bitfinex, operation: 'submit', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    // Every Bitfinex call waits its turn on the rate-limited queue, and that wait is measured.
    expect(moved(sdkBefore, sdkAfter, `${WORKER_METRICS.rateLimitWait}_count`, bitfinex)).toBeGreaterThanOrEqual(1);
    // Every metric the dashboard reads that we do not declare ourselves is one the SDK really exports.
    const exported = new Set(
      [...sdkAfter, ...gatewayAfter].map((sample) => sample.name.replace(/_(bucket|count|sum)$/, '')),
    );
    const ours = new Set<string>([...Object.values(WORKER_METRICS), ...Object.values(GATEWAY_METRICS)]);
    for (const name of dashboardMetrics()) {
      if (!ours.has(name)) expect({ name, exported: exported.has(name) }).toEqual({ name, exported: true });
    }
    // The SDK's own metrics are on the same endpoint.
    expect(total(sdkAfter, 'temporal_workflow_completed')).toBeGreaterThan(
      total(sdkBefore, 'temporal_workflow_completed'),
    );
  });

  it('counts webhook outcomes by result: a body that is not JSON is counted as malformed', async () => {
    const gatewayMetrics = `${stack.gateway.url}/metrics`;
    const before = await scrape(gatewayMetrics);
    const response = await fetch(`${stack.gateway.url}/webhooks/alfred`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"not":"signed"',
    });
    const after = await scrape(gatewayMetrics);
    expect(response.status).toBe(400);
    expect(
      total(after, GATEWAY_METRICS.webhooks, { provider: 'alfred', result: 'malformed' }) -
        total(before, GATEWAY_METRICS.webhooks, { provider: 'alfred', result: 'malformed' }),
    ).toBe(1);
  });
});
