import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { providerEventSignal } from '../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from './support/fake-provider';
import { spawnGroup, type Spawned } from './support/processes';
import { invoiceRequest } from './support/requests';
import { startTestEnv, testNamespace, type TestEnv } from './support/temporal-env';
import { waitForStatus } from './support/wait';

describe('a worker that crashes in the middle of an invoice', () => {
  let env: TestEnv;
  const ledger = path.join(mkdtempSync(path.join(os.tmpdir(), 'payorch-crash-')), 'ledger.txt');
  const workers: Spawned[] = [];

  async function startWorkerProcess(): Promise<Spawned> {
    const worker = spawnGroup(path.join('node_modules', '.bin', 'tsx'), ['test/support/worker-process.ts'], {
      LEDGER_FILE: ledger,
      JEST_WORKER_ID: process.env.JEST_WORKER_ID ?? '1',
    });
    workers.push(worker);
    await worker.waitFor(/worker ready/, 60_000);
    return worker;
  }

  beforeAll(async () => {
    // No worker in this process: the invoices run only in the child processes.
    env = await startTestEnv({ providers: fakeRegistry().registry, workers: false });
    expect(env.namespace).toBe(testNamespace());
  });
  afterAll(async () => {
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        process.kill(-(worker.child.pid ?? 0), 'SIGKILL');
      }
    }
    await env?.stop();
  });

  it('completes after a restart, and no provider step ran to completion twice', async () => {
    const first = await startWorkerProcess();
    const request = invoiceRequest({
      provider: 'alfred',
      direction: 'pay_out',
      approval: { required: true, approvers: [], timeoutSeconds: 600 },
    });
    await env.invoices.startInvoice(request);
    const handle = env.invoices.handle(request.invoiceId);
    await handle.signal(providerEventSignal, fakeEvent(request, 'ask-1', 'approval_requested'));
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_APPROVAL');

    process.kill(-(first.child.pid ?? 0), 'SIGKILL');
    await first.exited;

    await startWorkerProcess();
    await env.invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' });
    await handle.signal(providerEventSignal, fakeEvent(request, 'settled-1', 'settled'));
    const result = await env.invoices.waitForResult(request.invoiceId);
    expect(result.status).toBe('COMPLETED');

    const steps = readFileSync(ledger, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith(request.invoiceId))
      .map((line) => line.split(' ')[1]);
    expect(steps).toEqual(['kyc', 'paymentMethod', 'bank', 'submit', 'approveAtProvider']);
  });
});
