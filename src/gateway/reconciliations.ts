import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { PROVIDER_NAMES, type ProviderName } from '../domain/constants';
import { getReport, listReports, ReconciliationSummarySchema, StoredReportSchema } from '../store/reconciliations';
import { TASK_QUEUES } from '../workflows/definitions';
import {
  RECONCILIATION_ID_PREFIX,
  RECONCILIATION_RUN_WORKFLOW_TYPE,
  reconciliationReportId,
  type ReconciliationRunInput,
} from '../workflows/reconciliation-definitions';
import { AUTH_PROBLEMS, problemResponse, WITH_API_KEY } from './documentation';
import { problem, sendProblem } from './problem';
import type { ServiceApi, ServiceRouteDeps } from './service-routes';

const ReportIdSchema = z
  .string()
  .regex(/^reconciliation-[A-Za-z0-9._:-]{1,200}$/, 'a reconciliation report id (reconciliation-…)');

const StartBodySchema = z
  .object({
    provider: z.enum(PROVIDER_NAMES).optional().describe('One provider; absent: every enabled provider'),
    since: z.iso.datetime({ offset: true }).describe('Start of the window (ISO 8601)'),
    until: z.iso.datetime({ offset: true }).optional().describe('End of the window; absent: now'),
  })
  .strict()
  .refine((body) => body.until === undefined || Date.parse(body.since) < Date.parse(body.until), {
    message: 'since must come before until',
    path: ['since'],
  });

const StartedSchema = z.object({
  id: z.string().describe('The run; each provider has its own report'),
  since: z.string(),
  until: z.string(),
  reports: z.array(z.object({ provider: z.enum(PROVIDER_NAMES), id: z.string() })),
});

const RunningSchema = z.object({ id: z.string(), status: z.literal('running') });

const ListQuerySchema = z.object({
  provider: z.enum(PROVIDER_NAMES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const ReportQuerySchema = z.object({ format: z.enum(['json', 'csv']).optional() });

const ListSchema = z.object({
  reports: z.array(z.object({ id: z.string(), createdAt: z.string(), summary: ReconciliationSummarySchema })),
});

function json(description: string, schema: z.ZodType) {
  return { description, content: { 'application/json': { schema } } };
}

const storeUnavailable = problemResponse('StoreUnavailable: this gateway has no store for reconciliation reports');

/**
 * Reconciliation reports: deployment-wide, as a provider's reports are per merchant account, not per tenant; so only
 * operators hold the roles (`admin` includes them).
 */
export function registerReconciliationRoutes(api: ServiceApi, deps: ServiceRouteDeps): void {
  const { withDeadline, deadlineMs, config } = deps;

  api.post(
    '/reconciliations',
    {
      config: { role: 'reconciliations:run', invalid: { body: 'invalid reconciliation request' } },
      schema: {
        operationId: 'startReconciliation',
        summary: 'Reconcile a window against the providers now (one report per provider)',
        tags: ['reconciliations'],
        security: [...WITH_API_KEY],
        body: StartBodySchema,
        response: {
          202: json('Started: GET each report id until it answers 200', StartedSchema),
          400: problemResponse('ValidationError: the request is invalid, or the provider is not enabled here'),
          403: problemResponse('Forbidden: the key lacks the role reconciliations:run'),
          ...AUTH_PROBLEMS,
        },
      },
    },
    async (request, reply) => {
      const temporal = deps.temporal;
      if (!temporal) return sendProblem(reply, problem(503, 'TemporalUnavailable', 'no Temporal client here'));
      const { provider, since, until } = request.body;
      if (provider && !config.providers.enabled.includes(provider)) {
        return sendProblem(reply, problem(400, 'ValidationError', `${provider} is not enabled in this deployment`));
      }
      const providers: ProviderName[] = provider ? [provider] : [...config.providers.enabled];
      const window = {
        since: new Date(since).toISOString(),
        until: new Date(until ?? Date.now()).toISOString(),
      };
      const id = `${RECONCILIATION_ID_PREFIX}${randomUUID()}`;
      const input: ReconciliationRunInput = { providers, ...window };
      await withDeadline(deadlineMs, () =>
        temporal.workflow.start(RECONCILIATION_RUN_WORKFLOW_TYPE, {
          workflowId: id,
          taskQueue: TASK_QUEUES.invoices,
          args: [input],
        }),
      );
      return reply.status(202).send({
        id,
        ...window,
        reports: providers.map((name) => ({ provider: name, id: reconciliationReportId(id, name) })),
      });
    },
  );

  api.get(
    '/reconciliations',
    {
      config: { role: 'reconciliations:read' },
      schema: {
        operationId: 'listReconciliations',
        summary: 'Reconciliation reports, newest first (summaries)',
        tags: ['reconciliations'],
        security: [...WITH_API_KEY],
        querystring: ListQuerySchema,
        response: {
          200: json('Reports, newest first', ListSchema),
          400: problemResponse('ValidationError: invalid query parameters'),
          403: problemResponse('Forbidden: the key lacks the role reconciliations:read'),
          ...AUTH_PROBLEMS,
          503: storeUnavailable,
        },
      },
    },
    async (request, reply) => {
      if (!deps.store) return sendProblem(reply, problem(503, 'StoreUnavailable', 'no store for reports here'));
      return { reports: await listReports(deps.store, request.query) };
    },
  );

  api.get(
    '/reconciliations/:id',
    {
      config: { role: 'reconciliations:read', invalid: { params: 'invalid reconciliation id' } },
      schema: {
        operationId: 'getReconciliation',
        summary: 'One reconciliation report: JSON, or CSV for finance (Accept: text/csv, or ?format=csv)',
        tags: ['reconciliations'],
        security: [...WITH_API_KEY],
        params: z.object({ id: ReportIdSchema }),
        querystring: ReportQuerySchema,
        response: {
          200: {
            description: 'The report',
            content: {
              'application/json': { schema: StoredReportSchema },
              'text/csv': { schema: z.string() },
            },
          },
          202: json('Still running: ask again', RunningSchema),
          400: problemResponse('ValidationError: invalid id'),
          403: problemResponse('Forbidden: the key lacks the role reconciliations:read'),
          404: problemResponse('ReconciliationNotFound: no such report'),
          502: problemResponse('ReconciliationFailed: its workflow ended without a report (a provider unreachable)'),
          ...AUTH_PROBLEMS,
          503: storeUnavailable,
        },
      },
    },
    async (request, reply) => {
      if (!deps.store) return sendProblem(reply, problem(503, 'StoreUnavailable', 'no store for reports here'));
      const { id } = request.params;
      const report = await getReport(deps.store, id);
      if (report) {
        const csv = request.query.format === 'csv' || (!request.query.format && prefersCsv(request.headers.accept));
        if (csv) {
          return reply
            .type('text/csv; charset=utf-8')
            .header('Content-Disposition', `attachment; filename="${id}.csv"`)
            .send(report.csv);
        }
        return reply.type('application/json').send({
          id: report.id,
          createdAt: report.createdAt,
          summary: report.summary,
          differences: report.differences,
        });
      }
      const state = await progress(id);
      if (state === 'running') return reply.status(202).send({ id, status: 'running' as const });
      if (state === 'failed') {
        return sendProblem(
          reply,
          problem(502, 'ReconciliationFailed', `reconciliation ${id} ended without a report (see its workflow)`),
        );
      }
      return sendProblem(reply, problem(404, 'ReconciliationNotFound', `no reconciliation report ${id}`));
    },
  );

  /**
   * Where a report not stored yet stands: its workflow still at work (the caller asks again), ended without one (a
   * provider's API down past every retry), or unknown.
   */
  async function progress(id: string): Promise<'running' | 'failed' | 'unknown'> {
    const temporal = deps.temporal;
    if (!temporal) return 'unknown';
    const describe = async (workflowId: string): Promise<'running' | 'failed' | undefined> => {
      try {
        const description = await withDeadline(deadlineMs, () => temporal.workflow.getHandle(workflowId).describe());
        return description.status.name === 'RUNNING' ? 'running' : 'failed';
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      }
    };
    const own = await describe(id);
    if (own !== undefined) return own;
    // A provider's report whose run has not started it yet: the run's id is the report id without the provider.
    const provider = PROVIDER_NAMES.find((name) => id.endsWith(`-${name}`));
    const run = provider ? await describe(id.slice(0, -provider.length - 1)) : undefined;
    // A run that ended never started this report: it names no provider of that run.
    return run === 'running' ? 'running' : 'unknown';
  }
}

/** CSV only when the caller asks for it over JSON; a browser's or curl's `*\/*` gets JSON. */
function prefersCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept.split(',').map((part) => part.split(';')[0]?.trim().toLowerCase());
  const csv = types.indexOf('text/csv');
  const jsonAt = types.indexOf('application/json');
  return csv !== -1 && (jsonAt === -1 || csv < jsonAt);
}
