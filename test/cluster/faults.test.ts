import { driveSample, gatewayClient, SAMPLES, type SampleOptions } from '../../src/dev/samples';
import { isFinalStatus, PROVIDER_NAMES } from '../../src/domain/constants';
import { uniqueId } from '../support/requests';
import { Gate } from './gate';
import { clusterApi, clusterState, createdAtProvider, creationsAtProvider, processNamed } from './support';

const INVOICES = 20;

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** SIGKILL to the process's group, as a crash or the OOM killer would end it: no chance to finish anything. */
function crash(name: string): number {
  const { pid } = processNamed(name);
  process.kill(-pid, 'SIGKILL');
  return pid;
}

describe('the cluster while a worker process dies and the history service restarts', () => {
  it('brings every in-flight invoice to COMPLETED and creates nothing twice at any provider', async () => {
    const direct = clusterApi();
    const gateway = gatewayClient(direct);
    // Approvals and the customers' payments wait at the gate: each invoice stops at its one step that needs a person.
    const gate = new Gate();
    const api = {
      ...direct,
      gatewayUrl: await gate.forward(
        direct.gatewayUrl,
        (method, path) => method === 'POST' && path.endsWith('/approve'),
      ),
      sandboxUrl: await gate.forward(
        direct.sandboxUrl,
        (method, path) => method === 'POST' && path.includes('/_sandbox/'),
      ),
    };
    const invoices: SampleOptions[] = Array.from({ length: INVOICES }, (_, index) => {
      const sample = SAMPLES[index % SAMPLES.length] ?? SAMPLES[0];
      if (!sample) throw new Error('no samples');
      return { ...sample, invoiceId: uniqueId(`fault_${sample.provider}_${sample.direction}`) };
    });
    const driving = Promise.all(
      invoices.map(async (options) => ({ options, state: await driveSample(api, options, 400_000) })),
    ).finally(() => gate.close());
    await eventually('every invoice to wait for its person', () => gate.waiting === INVOICES);

    const before = await Promise.all(invoices.map((options) => gateway.get(options.invoiceId)));
    const inFlight = before.filter((state) => !isFinalStatus(state.status)).length;
    // Half go on at once, so the kills also find provider calls running, not only invoices waiting.
    // Their answers come first: a request cut off by the kill would be the test's fault, not the cluster's.
    await gate.release(INVOICES / 2);
    const killedWorker = crash('invoice-worker-1');
    const history = processNamed('temporal-history');
    crash('temporal-history');
    // The cluster's supervisor starts history again, as an orchestrator would; its state file shows the new pid.
    await eventually('history to be started again', () => {
      const now = processNamed('temporal-history');
      return now.restarts > history.restarts && now.pid !== history.pid;
    });
    // The other half once the gateway reads invoices again (through history): a service would retry its 503s.
    await eventually('history to serve again', async () => {
      const read = await Promise.all(
        invoices.map((options) =>
          gateway.get(options.invoiceId).then(
            () => true,
            () => false,
          ),
        ),
      );
      return read.every(Boolean);
    });
    gate.releaseAll();

    const results = await driving;
    process.stdout.write(`faults: ${inFlight} of ${INVOICES} invoices in flight when worker and history were killed\n`);
    expect(inFlight).toBe(INVOICES);
    for (const { options, state } of results) {
      expect({ invoiceId: options.invoiceId, status: state.status, error: state.lastError }).toEqual({
        invoiceId: options.invoiceId,
        status: 'COMPLETED',
        error: undefined,
      });
      expect({
        invoiceId: options.invoiceId,
        created: await createdAtProvider(options.provider, state.reference ?? ''),
      }).toEqual({
        invoiceId: options.invoiceId,
        created: 1,
      });
    }
    // And nowhere else either: no provider holds any object created twice, from this test or the other.
    for (const provider of PROVIDER_NAMES) {
      const twice = [...(await creationsAtProvider(provider))].filter(([, count]) => count > 1);
      expect({ provider, twice }).toEqual({ provider, twice: [] });
    }
    const after = clusterState().processes.find((entry) => entry.name === 'invoice-worker-1');
    expect(after?.pid).not.toBe(killedWorker);
  });
});
