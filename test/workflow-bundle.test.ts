import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { loadConfig } from '../src/config';
import { createLogger, installTemporalRuntimeLogger } from '../src/logger';
import { dataConverter } from '../src/temporal/codec';
import { connectWorker } from '../src/temporal/connection';
import { PREBUILT_WORKFLOW_BUNDLE, workerTuning, workerWorkflowBundle } from '../src/temporal/worker';
import { providerEventSignal, TASK_QUEUES } from '../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from './support/fake-provider';
import { invoiceRequest } from './support/requests';
import { startTestEnv, type TestEnv } from './support/temporal-env';

const root = path.resolve(__dirname, '..');

/**
 * The Docker image bundles the workflows once (`npm run build:bundle`) and its workers load that file. These tests
 * build one with the same script and make it do a worker's work: replay every recorded history and run an invoice.
 */
describe('the workflow bundle built ahead of the worker', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'workflow-bundle-'));
  const codePath = path.join(dir, 'workflow-bundle.js');

  beforeAll(async () => {
    // The replay worker's state changes are SDK INFO lines; through pino at the run's level they stay quiet.
    installTemporalRuntimeLogger(createLogger({ level: process.env.LOG_LEVEL ?? 'error' }));
    // The build script itself, run from source with a target named: dist/ is the image's business.
    const { stdout } = await promisify(execFile)(
      path.join(root, 'node_modules', '.bin', 'tsx'),
      [path.join(root, 'src', 'build-workflow-bundle.ts'), codePath],
      { cwd: root, timeout: 300_000 },
    );
    expect(stdout).toContain(codePath);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is the file a worker loads when it exists; running from source, the workflows are bundled afresh', async () => {
    expect(statSync(codePath).size).toBeGreaterThan(100_000);
    expect(await workerWorkflowBundle({ prebuilt: codePath })).toEqual({ codePath });
    // Under jest (as under tsx) no prebuilt file is looked for, so an old build can never stand in for edited code.
    expect(PREBUILT_WORKFLOW_BUNDLE).toBeUndefined();
    const fresh = await workerWorkflowBundle({ prebuilt: path.join(dir, 'absent.js') });
    expect('code' in fresh && fresh.code.length > 100_000).toBe(true);
  });

  it('replays every recorded invoice history', async () => {
    const histories = readdirSync(path.join(__dirname, 'histories'))
      .filter((file) => file.endsWith('.json'))
      .map((file) => ({
        workflowId: file.replace(/\.json$/, ''),
        history: historyFromJSON(JSON.parse(readFileSync(path.join(__dirname, 'histories', file), 'utf8'))),
      }));
    expect(histories.length).toBeGreaterThan(10);
    const options = { workflowBundle: { codePath }, dataConverter: dataConverter(loadConfig({ NODE_ENV: 'test' })) };
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(options, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect({ replayed, failures }).toEqual({ replayed: histories.length, failures: [] });
  });

  describe('on a worker against the dev server', () => {
    const { registry } = fakeRegistry();
    let env: TestEnv;
    beforeAll(async () => {
      env = await startTestEnv({ providers: registry, workers: false });
    });
    afterAll(async () => env?.stop());

    it('runs an invoice to COMPLETED', async () => {
      const { config, namespace, logger } = env;
      const connection = await connectWorker(config, { address: config.temporal.address ?? '', namespace });
      try {
        const worker = await Worker.create({
          connection,
          namespace,
          taskQueue: TASK_QUEUES.invoices,
          workflowBundle: { codePath },
          activities: createActivities({ providers: registry, logger }),
          ...workerTuning(config),
        });
        const invoice = invoiceRequest();
        const result = await worker.runUntil(async () => {
          await env.invoices.startInvoice(invoice);
          await env.invoices
            .handle(invoice.invoiceId)
            .signal(providerEventSignal, fakeEvent(invoice, `settle-${invoice.invoiceId}`, 'settled'));
          return env.invoices.waitForResult(invoice.invoiceId);
        });
        expect(result.status).toBe('COMPLETED');
        expect(result.transitions.map((transition) => transition.status)).toContain('SUBMITTED');
      } finally {
        await connection.close();
      }
    });
  });
});
