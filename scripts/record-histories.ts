// Records the histories of representative invoices into test/histories/, for the replay test that guards
// determinism: a workflow change that would break invoices already running fails CI. Run after a deliberate,
// versioned change to the workflow: `npm run histories:record`.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createActivities } from '../src/activities';
import { createInvoiceClient, type InvoiceClient } from '../src/client';
import { loadConfig } from '../src/config';
import { createLogger, installTemporalRuntimeLogger } from '../src/logger';
import { connectClient, connectWorker } from '../src/temporal/connection';
import { startTemporal } from '../src/temporal/dev-server';
import { createWorker } from '../src/temporal/worker';
import { providerEventSignal } from '../src/workflows/definitions';
import { fakeRegistry, type FakeProvider } from '../test/support/fake-provider';
import { invoiceRequest } from '../test/support/requests';
import { FAST_TIMING } from '../test/support/temporal-env';
import { waitForStatus } from '../test/support/wait';

type Scenario = (invoices: InvoiceClient, fakes: Record<string, FakeProvider>) => Promise<string>;

const SCENARIOS: Record<string, Scenario> = {
  'alfred-pay-in-completed': async (invoices) => {
    const request = invoiceRequest({ invoiceId: 'hist_alfred_in' });
    await invoices.startInvoice(request);
    await invoices.handle(request.invoiceId).signal(providerEventSignal, { eventId: 'e1', status: 'settled' });
    return request.invoiceId;
  },
  'alfred-pay-out-approved': async (invoices) => {
    const request = invoiceRequest({
      invoiceId: 'hist_alfred_out',
      direction: 'pay_out',
      approval: { required: true, approvers: ['ops@acme'], timeoutSeconds: 600 },
    });
    await invoices.startInvoice(request);
    const handle = invoices.handle(request.invoiceId);
    await handle.signal(providerEventSignal, { eventId: 'ask', status: 'approval_requested' });
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_APPROVAL');
    await invoices.approveInvoice(request.invoiceId, { by: 'ops@acme' });
    await handle.signal(providerEventSignal, { eventId: 'done', status: 'settled' });
    return request.invoiceId;
  },
  'payone-polled-and-captured': async (invoices, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_payone', provider: 'payone', currency: 'JOD', amount: 1250 });
    fakes.payone?.statuses.set(request.invoiceId, 'authorized');
    await invoices.startInvoice(request);
    return request.invoiceId;
  },
  'xprizo-cancelled-and-compensated': async (invoices) => {
    const request = invoiceRequest({
      invoiceId: 'hist_xprizo_cancel',
      provider: 'xprizo',
      approval: { required: true, approvers: [], timeoutSeconds: 600 },
    });
    await invoices.startInvoice(request);
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_APPROVAL');
    await invoices.cancelInvoice(request.invoiceId, { by: 'ops@acme', reason: 'customer left' });
    return request.invoiceId;
  },
  'bitfinex-expired-by-provider': async (invoices) => {
    const request = invoiceRequest({ invoiceId: 'hist_bitfinex', provider: 'bitfinex' });
    await invoices.startInvoice(request);
    await waitForStatus(invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    await invoices.handle(request.invoiceId).signal(providerEventSignal, { eventId: 'x', status: 'expired' });
    return request.invoiceId;
  },
  'alfred-failed-non-retryable': async (invoices, fakes) => {
    const request = invoiceRequest({ invoiceId: 'hist_alfred_failed' });
    fakes.alfred?.script(request.invoiceId, 'bank', { refuse: { type: 'ProviderRejected', message: 'bank refused' } });
    await invoices.startInvoice(request);
    return request.invoiceId;
  },
};

async function run(): Promise<void> {
  const config = loadConfig({ ...process.env, TEMPORAL_NAMESPACE: 'histories' });
  const logger = createLogger({ level: 'warn' });
  installTemporalRuntimeLogger(logger);
  const server = await startTemporal(config, logger, { ephemeral: true });
  const target = { address: server.address, namespace: server.namespace };
  const { registry, fakes } = fakeRegistry();
  const connection = await connectWorker(config, target);
  const workers = await createWorker({
    config,
    connection,
    namespace: server.namespace,
    activities: createActivities({ providers: registry, logger }),
    logger,
  });
  const client = await connectClient(config, target);
  const invoices = createInvoiceClient({ client, timing: FAST_TIMING });
  try {
    await workers.runUntil(async () => {
      for (const [name, scenario] of Object.entries(SCENARIOS)) {
        const invoiceId = await scenario(invoices, fakes);
        const result = await invoices.waitForResult(invoiceId);
        // The CLI writes the proto3 JSON that the SDK's historyFromJSON reads back.
        const json = execFileSync(server.cliPath ?? 'temporal', [
          'workflow',
          'show',
          '--workflow-id',
          invoices.handle(invoiceId).workflowId,
          '--namespace',
          server.namespace,
          '--address',
          server.address,
          '--output',
          'json',
        ]).toString();
        const file = path.join(__dirname, '..', 'test', 'histories', `${name}.json`);
        writeFileSync(file, json);
        const events = (JSON.parse(json) as { events: unknown[] }).events.length;
        process.stdout.write(`${name}: ${result.status}, ${events} events -> ${path.relative(process.cwd(), file)}\n`);
      }
    });
  } finally {
    await client.connection.close();
    await connection.close();
    await server.stop();
  }
}

run().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
