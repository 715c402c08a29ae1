// `--cost`: billable actions per invoice for every provider and direction, counted from the histories of a few
// invoices of each, plus the actions of the outgoing-webhook delivery workflows those invoices caused, counted apart.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { UNTENANTED } from '../src/domain/events';
import { createLogger } from '../src/logger';
import { openStore } from '../src/store/database';
import { ALL_EVENT_TYPES, endpointRepository } from '../src/webhooks/endpoints';
import { DIRECTIONS } from '../src/domain/constants';
import { PROVIDER_FACTS } from '../src/providers/facts';
import { INVOICE_WORKFLOW_TYPE } from '../src/workflows/definitions';
import type { BenchArgs } from './args';
import { closedPhase, oursRunner, type DriveContext } from './drive';
import { countHistory, meanCounts, type HistoryCounts } from './history';
import type { BenchStack } from './stack';
import { round } from './stats';
import { roundMap, summarise } from './summary';

/** Workflow ids of the outgoing-webhook deliveries (one workflow per delivery, its own type). */
export const DELIVERY_ID_PREFIX = 'webhook-delivery/';
/** How long deliveries still running are given to finish before their histories are counted as they stand. */
const DELIVERY_SETTLE_MS = 30_000;

interface PairResult {
  provider: string;
  direction: string;
  invoices: number;
  completed: number;
  failed: number;
  errors: string[];
  actionsPerInvoice: number;
  historyEventsPerInvoice: number;
  workflowTasksPerInvoice: number;
  actionsBreakdown: Record<string, number>;
  driverQueriesPerInvoice: number;
}

interface DeliveryResult {
  /** POSTs the run's webhook endpoint answered (2xx), every event of every invoice once if nothing was retried. */
  received: number;
  workflows: number;
  stillRunning: number;
  actions: number;
  /** Over every invoice the cost mode started (deliveries are not tied to one pair here). */
  actionsPerInvoice: number;
  byWorkflowType: Record<string, { workflows: number; actions: number }>;
  actionsBreakdown: Record<string, number>;
}

/**
 * Non-invoice workflows started since `since` whose id starts with DELIVERY_ID_PREFIX, waited for (up to
 * DELIVERY_SETTLE_MS), then counted by the same rules as invoices. None exist until the delivery workflows land; the
 * count is then zero, not an error.
 */
async function countDeliveries(
  stack: BenchStack,
  since: Date,
  invoices: number,
  received: () => number,
): Promise<DeliveryResult> {
  const query = `StartTime >= '${since.toISOString()}' AND WorkflowType != '${INVOICE_WORKFLOW_TYPE}'`;
  const list = async () => {
    const found: { workflowId: string; runId: string; type: string; running: boolean }[] = [];
    for await (const info of stack.client.workflow.list({ query })) {
      if (!info.workflowId.startsWith(DELIVERY_ID_PREFIX)) continue;
      found.push({
        workflowId: info.workflowId,
        runId: info.runId,
        type: info.type,
        running: info.status.name === 'RUNNING',
      });
    }
    return found;
  };
  // Visibility trails the start by a moment: give it one before the first look.
  await sleep(2000);
  let found = await list();
  const deadline = Date.now() + DELIVERY_SETTLE_MS;
  while (found.some((w) => w.running) && Date.now() < deadline) {
    await sleep(2000);
    found = await list();
  }
  const byWorkflowType: DeliveryResult['byWorkflowType'] = {};
  const counts: HistoryCounts[] = [];
  for (const workflow of found) {
    const history = await stack.client.workflow.getHandle(workflow.workflowId, workflow.runId).fetchHistory();
    const count = countHistory(history);
    counts.push(count);
    const entry = (byWorkflowType[workflow.type] ??= { workflows: 0, actions: 0 });
    entry.workflows++;
    entry.actions += count.actions;
  }
  const actions = counts.reduce((sum, c) => sum + c.actions, 0);
  const breakdown: Record<string, number> = {};
  for (const c of counts) {
    for (const [type, n] of Object.entries(c.actionsByType)) breakdown[type] = (breakdown[type] ?? 0) + n;
  }
  return {
    received: received(),
    workflows: found.length,
    stillRunning: found.filter((w) => w.running).length,
    actions,
    actionsPerInvoice: round(actions / Math.max(invoices, 1), 2),
    byWorkflowType,
    actionsBreakdown: breakdown,
  };
}

function pairsTable(pairs: readonly PairResult[]): string {
  const lines = [
    '| Provider | Direction | Invoices | Failed | Actions / invoice | History events / invoice | Workflow tasks / invoice | Driver queries / invoice |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of pairs) {
    lines.push(
      `| ${p.provider} | ${p.direction} | ${p.invoices} | ${p.failed} | ${p.actionsPerInvoice} | ` +
        `${p.historyEventsPerInvoice} | ${p.workflowTasksPerInvoice} | ${p.driverQueriesPerInvoice} |`,
    );
  }
  return lines.join('\n');
}

function breakdownByPair(pairs: readonly PairResult[]): string {
  const types = [...new Set(pairs.flatMap((p) => Object.keys(p.actionsBreakdown)))].sort();
  const lines = [
    `| Action | ${pairs.map((p) => `${p.provider} ${p.direction}`).join(' | ')} |`,
    `|---|${pairs.map(() => '---:').join('|')}|`,
  ];
  for (const type of types) lines.push(`| ${type} | ${pairs.map((p) => p.actionsBreakdown[type] ?? 0).join(' | ')} |`);
  return lines.join('\n');
}

/**
 * A service's webhook endpoint, subscribed to every event type of the driver's invoices (they have no tenant, so their
 * events are filed under UNTENANTED), answering 204 at once: what deliveries cost when nothing is retried.
 */
async function webhookEndpoint(stack: BenchStack) {
  let received = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received++;
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const store = await openStore(stack.storeUrl, createLogger({ level: 'warn' }));
  try {
    await endpointRepository(store, stack.config.payloadEncryption.keys).create({
      tenant: UNTENANTED,
      url: `http://127.0.0.1:${port}/payorch-events`,
      eventTypes: [ALL_EVENT_TYPES],
    });
  } finally {
    await store.close();
  }
  return {
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function costMode(args: BenchArgs, stack: BenchStack, ctx: DriveContext) {
  const since = new Date();
  const endpoint = await webhookEndpoint(stack);
  const pairs: PairResult[] = [];
  const providers = args.providerGiven ? [args.provider] : stack.config.providers.enabled;
  for (const provider of providers) {
    // A direction the provider does not offer is refused before any workflow starts: nothing to count.
    for (const direction of DIRECTIONS.filter((d) => PROVIDER_FACTS[provider].directions.includes(d))) {
      const pairCtx: DriveContext = { ...ctx, provider, direction };
      const short = direction === 'pay_in' ? 'in' : 'out';
      const label = `${provider} ${short}`;
      // No '_' in the id: providers see `<tenant>_<invoiceId>`, and the gateway splits their references at the first.
      const phase = await closedPhase(
        oursRunner(pairCtx, `c-${provider}-${short}-`),
        args.invoices,
        args.concurrency,
        label,
      );
      const summary = summarise(phase);
      const ok = phase.samples.filter((s) => s.ok);
      const counts = await Promise.all(
        ok.map(async (s) => countHistory(await stack.invoices.handle(s.id).fetchHistory())),
      );
      const mean = meanCounts(counts);
      pairs.push({
        provider,
        direction,
        invoices: phase.samples.length,
        completed: summary.completed,
        failed: summary.failed,
        errors: summary.errors,
        actionsPerInvoice: round(mean.actions, 2),
        historyEventsPerInvoice: round(mean.events, 2),
        workflowTasksPerInvoice: round(mean.workflowTasks, 2),
        actionsBreakdown: roundMap(mean.actionsByType),
        driverQueriesPerInvoice: round(summary.queriesPerInvoice, 2),
      });
    }
  }
  const invoices = pairs.reduce((sum, p) => sum + p.invoices, 0);
  const deliveries = await countDeliveries(stack, since, invoices, endpoint.received);
  await endpoint.close();
  const deliveryTypes = Object.entries(deliveries.byWorkflowType)
    .map(([type, d]) => `${type}: ${d.workflows} workflows, ${d.actions} actions`)
    .join('; ');
  return {
    result: { mode: 'cost' as const, invoicesPerPair: args.invoices, pairs, deliveries },
    sections: [
      `Billable actions per completed invoice, by Temporal Cloud's rules (bench/history.ts), mean over the completed ` +
        `invoices of each provider and direction (${args.invoices} started each, ${args.concurrency} at once). ` +
        `Queries leave no event: the driver's are in their own column.\n\n` +
        pairsTable(pairs),
      'Actions per invoice by kind:\n\n' + breakdownByPair(pairs),
      `Outgoing-webhook deliveries to one endpoint subscribed to every event type, answering 204 ` +
        `(${deliveries.received} POSTs received), counted apart: the non-invoice workflows whose id starts with ` +
        `\`${DELIVERY_ID_PREFIX}\`, started during the run, ${deliveries.workflows} workflows` +
        `${deliveries.stillRunning ? ` (${deliveries.stillRunning} still running when counted)` : ''}, ` +
        `${deliveries.actions} actions, ${deliveries.actionsPerInvoice} per invoice over all ${invoices}` +
        `${deliveryTypes ? ` (${deliveryTypes})` : ''}.`,
    ],
  };
}
