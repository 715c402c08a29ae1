// The benchmark's pure parts: its flags, its arrival schedule, its comparison report and its figure. The measuring
// itself needs a quiet machine and is run by hand (bench/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { parseArgs, UsageError } from '../bench/args';
import { compareResults, flatten } from '../bench/compare';
import { poissonArrivals } from '../bench/drive';
import { countHistory } from '../bench/history';
import { latencySvg, type LoadPoint } from '../bench/plot';
import { parseProfile, summariseProfile, threadOf } from '../bench/profile';

describe('bench flags', () => {
  it('keeps the closed loop as the default', () => {
    const args = parseArgs([]);
    expect(args).toMatchObject({ mode: 'throughput', invoices: 1000, concurrency: 20, warmup: 40, target: 'dev' });
    expect(args.workers).toBe(1);
  });

  it('reads an open-loop run from --rate, several rates at once', () => {
    const args = parseArgs(['--rate', '1,2.5', '--duration', '30', '--seed', '7']);
    expect(args).toMatchObject({ mode: 'open', rates: [1, 2.5], durationSeconds: 30, seed: 7 });
  });

  it('reads the sweep, the cost mode and the cluster target', () => {
    expect(parseArgs(['--sweep', '--levels', '10,90'])).toMatchObject({
      mode: 'sweep',
      levels: [10, 90],
      invoices: 300,
    });
    expect(parseArgs(['--all-providers'])).toMatchObject({ mode: 'cost', invoices: 3, warmup: 0 });
    expect(parseArgs(['--target', 'cluster', '--workers', '2'])).toMatchObject({ target: 'cluster', workers: 2 });
    expect(parseArgs(['--sweep', '--saturated-rate', '12.5'])).toMatchObject({ mode: 'sweep', saturatedRate: 12.5 });
  });

  it('refuses modes that contradict each other and --with alone', () => {
    expect(() => parseArgs(['--sweep', '--cost'])).toThrow(UsageError);
    expect(() => parseArgs(['--mode', 'open'])).toThrow(/needs --rate/);
    expect(() => parseArgs(['--with', 'a.json'])).toThrow(/--compare/);
  });
});

describe('Poisson arrivals', () => {
  it('are the same for the same seed and rate, and differ for another seed', () => {
    expect(poissonArrivals(5, 20, 42)).toEqual(poissonArrivals(5, 20, 42));
    expect(poissonArrivals(5, 20, 43)).not.toEqual(poissonArrivals(5, 20, 42));
  });

  it('come at the asked rate on average, in order, inside the window', () => {
    const arrivals = poissonArrivals(10, 1000, 1);
    expect(arrivals.length).toBeGreaterThan(9_700);
    expect(arrivals.length).toBeLessThan(10_300);
    expect(arrivals.every((at, i) => at < 1_000_000 && (i === 0 || at >= (arrivals[i - 1] ?? 0)))).toBe(true);
  });
});

describe('--compare', () => {
  it('reports every numeric figure in both results, leaving the machine and settings to the notes', () => {
    const before = {
      timestamp: 't0',
      invoicesPerSecond: 10,
      latencyMs: { ours: { p99: 200 } },
      settings: { concurrency: 20 },
    };
    const now = {
      invoicesPerSecond: 12,
      latencyMs: { ours: { p99: 150 } },
      rates: [{ rate: 1 }],
      settings: { concurrency: 10 },
    };
    expect([...flatten(now).keys()]).toEqual(['invoicesPerSecond', 'latencyMs.ours.p99', 'rates[0].rate']);
    const report = compareResults(before, now, 'before.json');
    expect(report).toContain('| invoicesPerSecond | 10 | 12 | +2 | +20 |');
    expect(report).toContain('| latencyMs.ours.p99 | 200 | 150 | -50 | -25 |');
    expect(report).toContain('settings.concurrency: 20 → 10');
    expect(report).toContain('Only in this result (1): rates[0].rate');
  });
});

describe('latency figure', () => {
  it('draws a p50 and a p99 line per kind in each of the three panels', () => {
    const at = (ms: number) => ({
      awaiting: { p50: ms, p99: 2 * ms },
      update: { p50: ms / 10, p99: ms / 5 },
      e2e: { p50: 2 * ms, p99: 3 * ms },
    });
    const points: LoadPoint[] = [
      { rate: 4, ours: at(300), baseline: at(250) },
      { rate: 1, ours: at(100), baseline: at(90) },
    ];
    const svg = latencySvg(points, 'test <caption>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(12);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(svg).toContain('test &lt;caption&gt;');
    // Every point inside its panel: x within the three panels' width, y above the x axis and below the top.
    const coords = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(coords).toHaveLength(24);
    for (const [x, y] of coords) {
      expect(x).toBeLessThanOrEqual(960);
      expect(y).toBeGreaterThanOrEqual(28);
      expect(y).toBeLessThanOrEqual(200);
    }
  });
});

describe('billable actions, by Temporal Cloud’s rules', () => {
  const countRecorded = (name: string) =>
    countHistory(historyFromJSON(JSON.parse(readFileSync(join(__dirname, `histories/${name}.json`), 'utf8'))));

  it('bills one action per workflow task for its local activities, and nothing for patches', () => {
    // A released history: 3 patch markers, each with its TemporalChangeVersion upsert, and 9 local-activity markers
    // written by 5 workflow tasks (the first task writes 4).
    const counts = countRecorded('el1-alfred-pay-out-two-approvers-completed');
    expect(counts.eventsByType).toMatchObject({ MarkerRecorded: 12, UpsertWorkflowSearchAttributes: 7 });
    expect(counts.actionsByType).toEqual({
      WorkflowExecutionStarted: 1,
      MarkerRecorded: 5,
      UpsertWorkflowSearchAttributes: 4,
      ActivityTaskStarted: 2,
      WorkflowExecutionSignaled: 2,
      TimerStarted: 1,
      WorkflowExecutionUpdateAccepted: 2,
    });
    expect(counts.actions).toBe(17);
  });

  it('bills one action less once the last approval travels with the call at the provider (patch event-fold-1)', () => {
    const counts = countRecorded('ef1-alfred-pay-out-two-approvers-completed');
    // Local activities now in 4 workflow tasks: the setup steps, the wait for approval, the first approval, the end.
    expect(counts.actionsByType).toMatchObject({ MarkerRecorded: 4, UpsertWorkflowSearchAttributes: 4 });
    expect(counts.actions).toBe(16);
  });

  it('bills the setup steps and the publications as activities once no local activity runs (patch replay-safe-1)', () => {
    const counts = countRecorded('rs1-alfred-pay-out-two-approvers-completed');
    // 8 activities: 3 setup steps, 3 publications, submit and the approval at alfred; 7 upserts, since each setup step
    // now ends its workflow task. The price of histories that replay: 16 actions before.
    expect(counts.eventsByType.MarkerRecorded).toBe(5);
    expect(counts.actionsByType).toEqual({
      WorkflowExecutionStarted: 1,
      UpsertWorkflowSearchAttributes: 7,
      ActivityTaskStarted: 8,
      WorkflowExecutionSignaled: 2,
      TimerStarted: 1,
      WorkflowExecutionUpdateAccepted: 2,
    });
    expect(counts.actions).toBe(21);
  });
});

describe('CPU profile summary', () => {
  it('gives each sample the delta before it and sums self time by category and by function', () => {
    const frame = (functionName: string, url = '', lineNumber = -1) => ({
      functionName,
      url,
      lineNumber,
      columnNumber: 0,
    });
    const profile = parseProfile({
      nodes: [
        { id: 1, callFrame: frame('(root)'), hitCount: 1, children: [2, 3, 4, 6] },
        { id: 2, callFrame: frame('(idle)'), hitCount: 2 },
        {
          id: 3,
          callFrame: frame('dispatchWebhook', 'file:///work/wt-prof/src/webhooks/dispatch.ts', 41),
          hitCount: 3,
          children: [5],
        },
        {
          id: 4,
          callFrame: frame('runActivation', '/work/main/node_modules/@temporalio/worker/lib/worker.js', 99),
          hitCount: 1,
        },
        { id: 5, callFrame: frame('writeGeneric', 'node:internal/stream_base_commons', 150), hitCount: 1 },
        { id: 6, callFrame: frame('(garbage collector)'), hitCount: 1 },
      ],
      startTime: 0,
      endTime: 6000,
      samples: [2, 3, 3, 5, 4, 2, 3, 6, 1],
      timeDeltas: [1000, 500, 700, 300, 400, 2000, 800, 200, 100],
    });
    // By hand, in µs: idle 1000 + 2000; dispatchWebhook 500 + 700 + 800; writeGeneric 300; runActivation 400; GC 200;
    // root 100. Profiled 6000, busy 3000.
    const summary = summariseProfile(profile, { top: 2 });
    expect(summary.profiledMs).toBe(6);
    expect(summary.busyMs).toBe(3);
    expect(summary.categories).toEqual([
      { category: '(idle)', ms: 3, percentOfBusy: 0 },
      { category: 'ours: src/webhooks/dispatch.ts', ms: 2, percentOfBusy: 66.7 },
      { category: 'npm: @temporalio/worker', ms: 0.4, percentOfBusy: 13.3 },
      { category: 'node: internals', ms: 0.3, percentOfBusy: 10 },
      { category: '(garbage collector)', ms: 0.2, percentOfBusy: 6.7 },
      { category: '(root)', ms: 0.1, percentOfBusy: 3.3 },
    ]);
    expect(summary.top).toEqual([
      { name: 'dispatchWebhook', where: 'src/webhooks/dispatch.ts:42', ms: 2, percentOfBusy: 66.7 },
      { name: 'runActivation', where: '@temporalio/worker/lib/worker.js:100', ms: 0.4, percentOfBusy: 13.3 },
    ]);
    expect(threadOf('/tmp/prof/worker-1/CPU.20261202.112824.4242.1.007.cpuprofile')).toBe('pid 4242, worker thread 1');
  });
});
