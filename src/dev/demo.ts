import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook, WebhookSignatureError } from '../client';
import type { ReconciliationSummary } from '../domain/reconciliation';
import { FINAL_STATUSES } from '../domain/constants';
import { callJson } from './samples';

/**
 * What `npm start` shows of issue 13 beside the sample invoices: a webhook endpoint served by this process, which
 * verifies every delivery as a tenant's receiver would, and one reconciliation run over a sandbox told to drift.
 */
export interface DemoEndpoint {
  id: string;
  url: string;
  /** Verified deliveries by event id; a repeat of an id is counted once. */
  events: Map<string, { type: string; invoiceId: string; sequence: number }>;
  refused: number;
  /** Resolves once every given invoice has had its final event delivered, or after `timeoutMs`. */
  settled(invoiceIds: readonly string[], timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

interface Keys {
  gatewayUrl: string;
  serviceKey: string;
  operatorKey: string;
}

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

/** Listens on a free loopback port and registers itself, for every event type, with the service key's tenant. */
export async function startDemoEndpoint(keys: Keys): Promise<DemoEndpoint> {
  const events: DemoEndpoint['events'] = new Map();
  const finals = new Set<string>();
  let refused = 0;
  let secret = '';
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const event = verifyWebhook(Buffer.concat(chunks), request.headers['payorch-signature'], [secret]);
        events.set(event.id, { type: event.type, invoiceId: event.invoiceId, sequence: event.sequence });
        if ((FINAL_STATUSES as readonly string[]).includes(event.data.invoice.status)) finals.add(event.invoiceId);
        response.writeHead(204).end();
      } catch (error) {
        if (!(error instanceof WebhookSignatureError)) throw error;
        refused++;
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/payorch-events`;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  try {
    const endpoint = (await callJson(
      'POST',
      `${keys.gatewayUrl}/v1/webhook-endpoints`,
      { url, eventTypes: ['*'] },
      auth(keys.serviceKey),
    )) as { id: string; secret: string };
    secret = endpoint.secret;
    return {
      id: endpoint.id,
      url,
      events,
      get refused() {
        return refused;
      },
      async settled(invoiceIds, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          if (invoiceIds.every((id) => finals.has(id))) return true;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        return false;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Leaves one alfred object no invoice of ours holds (the sandbox's drift), then reconciles alfred over the last hour
 * at once, as `payorch reconcile` would: the first report has that orphan to show.
 */
export async function reconcileDriftedSandbox(
  keys: Keys,
  sandboxUrl: string,
  timeoutMs = 60_000,
): Promise<{ id: string; summary: ReconciliationSummary }> {
  await callJson('POST', `${sandboxUrl}/alfred/_sandbox/drift/orphan`, { amount: 42, currency: 'USD' });
  const started = (await callJson(
    'POST',
    `${keys.gatewayUrl}/v1/reconciliations`,
    { provider: 'alfred', since: new Date(Date.now() - 3_600_000).toISOString() },
    auth(keys.operatorKey),
  )) as { reports: { provider: string; id: string }[] };
  const report = started.reports[0];
  if (!report) throw new Error('the reconciliation started no report');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${keys.gatewayUrl}/v1/reconciliations/${report.id}`, {
      headers: auth(keys.operatorKey),
    });
    const body = (await response.json()) as { summary?: ReconciliationSummary };
    if (response.status === 200 && body.summary) return { id: report.id, summary: body.summary };
    if (response.status !== 202 || Date.now() > deadline) {
      throw new Error(`reconciliation ${report.id}: HTTP ${response.status} ${JSON.stringify(body)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
