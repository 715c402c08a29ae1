import { z } from 'zod';
import { PROVIDER_NAMES } from '../domain/constants';
import { DIFFERENCE_CLASSES } from '../domain/reconciliation';
import { StoredReportSchema, type StoredReport } from '../store/reconciliations';
import type { ReconcileCommand } from './args';

const StartedSchema = z.object({
  id: z.string(),
  since: z.string(),
  until: z.string(),
  reports: z.array(z.object({ provider: z.enum(PROVIDER_NAMES), id: z.string() })),
});

const ProblemSchema = z.looseObject({ type: z.string().optional(), detail: z.string().optional() });

/** The gateway refused or failed: its problem type is the error's, so scripts can switch on it. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ReconcileDeps {
  gatewayUrl: string;
  apiKey: string;
  pollMs?: number;
}

async function request(deps: ReconcileDeps, method: string, path: string, body?: unknown) {
  const response = await fetch(`${deps.gatewayUrl.replace(/\/$/, '')}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${deps.apiKey}`,
      accept: 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (response.status >= 400) {
    const problem = ProblemSchema.safeParse(parsed);
    const type = problem.success ? (problem.data.type ?? 'Error') : 'Error';
    const detail = problem.success ? (problem.data.detail ?? '') : text.slice(0, 200);
    throw new GatewayError(response.status, type, `${method} ${path}: ${response.status} ${type} ${detail}`.trim());
  }
  return { status: response.status, body: parsed };
}

/** Starts a reconciliation through the gateway and waits for every provider's report. */
export async function runReconcile(
  command: ReconcileCommand,
  deps: ReconcileDeps,
): Promise<{ id: string; since: string; until: string; reports: StoredReport[] }> {
  const started = StartedSchema.parse(
    (
      await request(deps, 'POST', '/v1/reconciliations', {
        ...(command.provider ? { provider: command.provider } : {}),
        since: command.since,
        ...(command.until ? { until: command.until } : {}),
      })
    ).body,
  );
  const deadline = Date.now() + command.timeoutSeconds * 1000;
  const reports: StoredReport[] = [];
  for (const { id } of started.reports) {
    for (;;) {
      const answer = await request(deps, 'GET', `/v1/reconciliations/${encodeURIComponent(id)}`);
      if (answer.status === 200) {
        reports.push(StoredReportSchema.parse(answer.body));
        break;
      }
      if (Date.now() > deadline) {
        throw new GatewayError(504, 'ReconciliationTimeout', `report ${id} not ready after ${command.timeoutSeconds}s`);
      }
      await new Promise((resolve) => setTimeout(resolve, deps.pollMs ?? 1_000));
    }
  }
  return { id: started.id, since: started.since, until: started.until, reports };
}

/** One paragraph per provider: its report id, the counts, and what its report cannot see. */
export function formatReconciliation(result: Awaited<ReturnType<typeof runReconcile>>): string {
  const lines = [`reconciliation ${result.id}: ${result.since} .. ${result.until}`];
  for (const { id, summary } of result.reports) {
    const classes = DIFFERENCE_CLASSES.filter((name) => summary.byClass[name] > 0)
      .map((name) => `${name} ${summary.byClass[name]}`)
      .join(', ');
    lines.push(
      '',
      `${summary.provider}: ${summary.differences} difference${summary.differences === 1 ? '' : 's'}${classes ? ` (${classes})` : ''}`,
      `  report     ${id}  (GET /v1/reconciliations/${id}, ?format=csv for finance)`,
      `  compared   ${summary.invoices} invoices, ${summary.records} provider records, ${summary.matched} matched; ${summary.nudged} running invoices nudged`,
      `  coverage   ${summary.coverage}${summary.coverageNote ? `: ${summary.coverageNote}` : ''}`,
    );
  }
  return lines.join('\n');
}
