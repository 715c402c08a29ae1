import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../config';
import { createLogger, type Logger } from '../logger';
import { DEV_TENANT } from '../gateway/auth';
import { invoiceWorkflowId, tenantInvoiceKey } from '../workflows/definitions';
import { exitFailedStart, say } from './console';
import { DEV_DEFAULTS } from './defaults';
import { reconcileDriftedSandbox, startDemoEndpoint } from './demo';
import { driveSample, SAMPLES } from './samples';
import { DELIVERY_WORKFLOW_TYPE } from '../workflows/delivery-definitions';
import { startStack, type Stack } from './stack';

async function runSamples(config: Config, stack: Stack, logger: Logger): Promise<void> {
  // With configured keys the samples would have to hold one; only the development principals' keys are known here.
  const keys = stack.gateway.devAccess;
  if (!keys || !stack.sandboxes) return;
  const api = {
    gatewayUrl: stack.gateway.url,
    apiKey: keys.service,
    approverKey: keys.approver,
    tenant: DEV_TENANT,
    sandboxUrl: stack.sandboxes.url,
  };
  const demoKeys = { gatewayUrl: stack.gateway.url, serviceKey: keys.service, operatorKey: keys.operator };
  // Registered first, so it receives every event of the samples.
  const endpoint = await startDemoEndpoint(demoKeys).catch((error: unknown) => {
    logger.error({ err: error }, 'demo webhook endpoint failed');
    return undefined;
  });
  if (endpoint) stops.push(() => endpoint.close());
  say('Driving one sample invoice per provider and direction through the gateway:');
  const run = randomUUID().slice(0, 8);
  const invoiceIds: string[] = [];
  await Promise.all(
    SAMPLES.map(async (sample) => {
      const invoiceId = `sample_${sample.provider}_${sample.direction}_${run}`;
      invoiceIds.push(invoiceId);
      try {
        const state = await driveSample(api, { ...sample, invoiceId });
        const workflowId = invoiceWorkflowId(tenantInvoiceKey(DEV_TENANT, invoiceId));
        const link = stack.server.uiUrl
          ? `${stack.server.uiUrl}/namespaces/${stack.server.namespace}/workflows/${workflowId}`
          : workflowId;
        say(`  ${sample.provider.padEnd(8)} ${sample.direction.padEnd(8)} ${state.status.padEnd(10)} ${link}`);
      } catch (error) {
        logger.error({ err: error, invoiceId }, 'sample invoice failed');
        say(`  ${sample.provider.padEnd(8)} ${sample.direction.padEnd(8)} FAILED     ${String(error)}`);
      }
    }),
  );

  if (endpoint) {
    await endpoint.settled(invoiceIds, 30_000);
    const { service } = keys;
    say(`Webhook deliveries to the demo endpoint ${endpoint.url} (every event type, signatures checked):`);
    say(`  ${endpoint.events.size} events received and verified, ${endpoint.refused} refused`);
    say(`  Events     curl -s ${stack.gateway.url}/v1/events -H 'authorization: Bearer ${service}'`);
    say(
      `  Attempts   curl -s ${stack.gateway.url}/v1/webhook-endpoints/${endpoint.id}/attempts ` +
        `-H 'authorization: Bearer ${service}'`,
    );
    if (stack.server.uiUrl) {
      say(
        `  Workflows  ${stack.server.uiUrl}/namespaces/${stack.server.namespace}/workflows?query=` +
          encodeURIComponent(`WorkflowType = '${DELIVERY_WORKFLOW_TYPE}'`),
      );
    }
  }

  try {
    const report = await reconcileDriftedSandbox(demoKeys, stack.sandboxes.url);
    const classes = Object.entries(report.summary.byClass)
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${name} ${count}`);
    say('Reconciliation of alfred over the last hour, after the sandbox was told to leave an orphan:');
    say(
      `  ${report.summary.records} alfred records, ${report.summary.invoices} invoices, ` +
        `${report.summary.differences} differences${classes.length ? ` (${classes.join(', ')})` : ''}`,
    );
    const show = `-H 'authorization: Bearer ${keys.operator}'`;
    say(`  Report     curl -s ${stack.gateway.url}/v1/reconciliations/${report.id} ${show}`);
    say(`  CSV        curl -s '${stack.gateway.url}/v1/reconciliations/${report.id}?format=csv' ${show}`);
  } catch (error) {
    logger.error({ err: error }, 'demo reconciliation failed');
    say(`  Reconciliation FAILED  ${String(error)}`);
  }
}

/** What the demo started beside the stack, stopped before it. */
const stops: (() => Promise<void>)[] = [];

/** `npm start`: the whole stack on this machine, until Ctrl-C. */
async function run(): Promise<void> {
  const config = loadConfig({ ...DEV_DEFAULTS, ...process.env });
  const logger = createLogger({ level: config.logLevel });
  const stack = await startStack(config, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    Promise.all(stops.map((stop) => stop().catch(() => undefined)))
      .then(() => stack.stop())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'stop failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  say('payment-orchestrator is running');
  say(`  Temporal frontend  ${stack.server.address} (namespace ${stack.server.namespace})`);
  if (stack.server.uiUrl)
    say(`  Temporal UI        ${stack.server.uiUrl}/namespaces/${stack.server.namespace}/workflows`);
  say(`  Gateway            ${stack.gateway.url}  (API docs: ${stack.gateway.url}/docs, OpenAPI: /openapi.json)`);
  const keys = stack.gateway.devAccess;
  if (keys) {
    say(`  Dev API keys       (tenant ${DEV_TENANT}; Authorization: Bearer <key>)`);
    say(`    dev-service      ${keys.service}  create, read, cancel, events, webhooks`);
    say(`    dev-approver     ${keys.approver}  read, approve, cancel`);
    say(`    dev-operator     ${keys.operator}  admin (decodes payloads)`);
  }
  say(
    stack.store.dataDir
      ? `  Store              embedded PostgreSQL (PGlite) at ${stack.store.url}, data in ${stack.store.dataDir}`
      : `  Store              ${stack.store.url.replace(/\/\/[^@]*@/, '//')}`,
  );
  if (stack.sandboxes) say(`  Provider sandboxes ${stack.sandboxes.url}/{alfred,payone,xprizo,bitfinex}`);
  say(`  Codec server       ${stack.gateway.url}/codec  (the UI decrypts payloads through it)`);
  // LOG_LEVEL=error hides the worker's warning, and this one must not go unseen.
  if (config.payloadEncryption.developmentKey)
    say('  Payload encryption the published development key: set PAYLOAD_ENCRYPTION_KEYS for real data');
  if (config.startSamples) await runSamples(config, stack, logger);
  if (!stopping) say('Press Ctrl-C to stop.');
}

run().catch((error: unknown) => exitFailedStart('npm start', error));
