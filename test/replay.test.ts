import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { Worker } from '@temporalio/worker';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { loadConfig } from '../src/config';
import { dataConverter } from '../src/temporal/codec';
import { workflowBundle } from '../src/temporal/worker';

const dir = path.join(__dirname, 'histories');

/** Recorded with the first released workflow; never re-recorded. */
const RELEASED = [
  'alfred-pay-in-completed',
  'alfred-pay-out-approved',
  'payone-polled-and-captured',
  'xprizo-cancelled-and-compensated',
  'bitfinex-expired-by-provider',
  'alfred-failed-non-retryable',
];

describe('determinism guard', () => {
  it('replays every recorded invoice history with the current workflow code', async () => {
    const files = readdirSync(dir).filter((file) => file.endsWith('.json'));
    // Invoices started by the workflow before the money-safety release (no marker) and after it (`ms1-`): both run.
    expect(files).toEqual(expect.arrayContaining(RELEASED.map((name) => `${name}.json`)));
    expect(files.filter((file) => file.startsWith('ms1-')).length).toBeGreaterThanOrEqual(10);
    // Tenants and four-eyes approval (patch four-eyes-1).
    expect(files.filter((file) => file.startsWith('fe1-')).length).toBeGreaterThanOrEqual(2);
    // An unrecognised PayOne status keeps polling (patch payone-unknown-1).
    expect(files.filter((file) => file.startsWith('pu1-')).length).toBeGreaterThanOrEqual(1);
    // An operator's completion by hand of a waiting Bitfinex invoice (patch bitfinex-complete-1).
    expect(files.filter((file) => file.startsWith('bc1-')).length).toBeGreaterThanOrEqual(1);
    // A Bitfinex webhook only tells the invoice to look; it fetches on the rate-limited queue (patch bitfinex-verify-1).
    expect(files.filter((file) => file.startsWith('bv1-')).length).toBeGreaterThanOrEqual(1);
    // Invoices that record their events in the event log, also across a continue-as-new (patch event-log-1).
    expect(files.filter((file) => file.startsWith('el1-')).length).toBeGreaterThanOrEqual(4);
    // Invoices that decide on recorded time, not on the task's (patch replay-safe-1).
    expect(files.filter((file) => file.startsWith('rs1-')).length).toBeGreaterThanOrEqual(6);
    // Webhook deliveries: retried then delivered, given up then the next event, continued as new, endpoint disabled.
    expect(files.filter((file) => file.startsWith('wd1-')).length).toBeGreaterThanOrEqual(4);
    const histories = files.map((file) => ({
      workflowId: file.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))),
    }));
    const failures: string[] = [];
    // Through the payload codec, as workers run: histories written before encryption must decode as they are.
    const options = {
      workflowBundle: await workflowBundle(),
      dataConverter: dataConverter(loadConfig({ NODE_ENV: 'test' })),
    };
    for await (const result of Worker.runReplayHistories(options, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
  });

  it('replays them as well with the OpenTelemetry workflow interceptors in the bundle (tracing on)', async () => {
    const histories = readdirSync(dir)
      .filter((file) => file.endsWith('.json'))
      .map((file) => ({
        workflowId: file.replace(/\.json$/, ''),
        history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))),
      }));
    const exporter = new InMemorySpanExporter();
    const options = {
      workflowBundle: await workflowBundle({ tracing: true }),
      dataConverter: dataConverter(loadConfig({ NODE_ENV: 'test' })),
      sinks: { exporter: makeWorkflowExporter(new SimpleSpanProcessor(exporter), Resource.default()) },
    };
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(options, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
    expect(histories.length).toBeGreaterThanOrEqual(RELEASED.length);
  });
});
