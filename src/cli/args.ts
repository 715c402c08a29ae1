import { parseArgs } from 'node:util';
import { z } from 'zod';
import { PROVIDER_NAMES, type ProviderName } from '../domain/constants';
import { InvoiceStatusSchema } from '../domain/invoice';
import { PrincipalIdSchema, ROLES, TenantIdSchema, type Role } from '../access/principals';

export class UsageError extends Error {
  readonly type = 'UsageError';
}

export const USAGE = `Usage: payorch [--json] [--tenant T] invoice <command>
       payorch keys create --tenant T --id P --roles R1,R2 [--file keys.json]
       payorch reconcile --since DATE [--provider P] [--until DATE] [--timeout SECONDS]

Commands:
  invoice create --file request.json         start an invoice (the same file again is a no-op)
  invoice show <invoiceId>                   the invoice's state and history
  invoice list [--status S] [--provider P] [--customer C] [--page-size N]
  invoice approve <invoiceId> [--by X] [--reason R]
  invoice reject <invoiceId> [--by X] [--reason R]
  invoice cancel <invoiceId> [--by X] [--reason R]
  invoice resolve <invoiceId> --outcome COMPLETED|FAILED|CANCELLED|REJECTED|EXPIRED --reason R [--by X]
  invoice complete <invoiceId> --pay-ccy C (--deposit-id N | --ledger-id N) [--by X] [--reason R]
                                             complete a Bitfinex invoice waiting for its payment by hand, linking
                                             the deposit or ledger entry that paid it (recorded as forced)
  keys create                                a new API key for principal P of tenant T, printed once; its digest
                                             is added to --file (made if missing), else printed to add yourself.
                                             Roles: invoices:create, invoices:read, invoices:approve,
                                             invoices:cancel, payloads:decode, admin
  reconcile                                  reconcile our invoices with the providers' reports for a window now,
                                             through the gateway (PAYORCH_GATEWAY_URL, default the configured
                                             gateway; PAYORCH_API_KEY, a key with reconciliations:run and
                                             :read); waits, prints each provider's summary and report id

Options:
  --json     machine-readable output on stdout
  --tenant   the tenant whose invoices to work on (default PAYORCH_TENANT); without one, invoice ids are the full
             keys Temporal shows (<tenant>_<invoiceId>)
  --help     this text

Temporal: the CLI's profile file and variables (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE, TEMPORAL_ADDRESS, default
127.0.0.1:TEMPORAL_PORT, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*).
Exit codes: 0 ok, 2 usage or validation error, 3 not found, 4 refused (state, permission, conflict), 1 other.`;

export type Decide = 'approve' | 'reject' | 'cancel';

export type Command =
  | { kind: 'help' }
  | ReconcileCommand
  | { kind: 'create'; file: string }
  | { kind: 'show'; invoiceId: string }
  | { kind: 'list'; filter: z.output<typeof ListFilterSchema> }
  | { kind: Decide; invoiceId: string; by?: string; reason?: string }
  | { kind: 'resolve'; invoiceId: string; outcome?: string; by?: string; reason?: string }
  | {
      kind: 'complete';
      invoiceId: string;
      payCcy?: string;
      depositId?: string;
      ledgerId?: string;
      by?: string;
      reason?: string;
    }
  | { kind: 'keys-create'; tenant: string; id: string; roles: Role[]; file?: string };

export interface ReconcileCommand {
  kind: 'reconcile';
  provider?: ProviderName;
  since: string;
  until?: string;
  timeoutSeconds: number;
}

/** A day (`2026-11-01`, midnight UTC) or a full ISO 8601 time. */
const WhenSchema = z.union([
  z.iso.date().transform((day) => `${day}T00:00:00.000Z`),
  z.iso.datetime({ offset: true }).transform((time) => new Date(time).toISOString()),
]);

export function parseReconcile(values: {
  provider?: string;
  since?: string;
  until?: string;
  timeout?: string;
}): ReconcileCommand {
  const provider = z.enum(PROVIDER_NAMES).optional().safeParse(values.provider);
  if (!provider.success) throw new UsageError(`--provider: one of ${PROVIDER_NAMES.join(', ')}`);
  if (values.since === undefined) throw new UsageError('reconcile needs --since <date>');
  const since = WhenSchema.safeParse(values.since);
  if (!since.success) throw new UsageError('--since: a date (2026-11-01) or an ISO 8601 time');
  const until = values.until === undefined ? undefined : WhenSchema.safeParse(values.until);
  if (until && !until.success) throw new UsageError('--until: a date (2026-11-01) or an ISO 8601 time');
  const timeout = z.coerce.number().int().min(1).max(86_400).default(900).safeParse(values.timeout);
  if (!timeout.success) throw new UsageError('--timeout: seconds, 1 to 86400');
  return {
    kind: 'reconcile',
    ...(provider.data ? { provider: provider.data } : {}),
    since: since.data,
    ...(until?.data ? { until: until.data } : {}),
    timeoutSeconds: timeout.data,
  };
}

export interface ParsedArgs {
  command: Command;
  json: boolean;
  tenant?: string;
}

const ListFilterSchema = z.object({
  status: InvoiceStatusSchema.optional(),
  provider: z.enum(PROVIDER_NAMES).optional(),
  customerId: z.string().min(1).optional(),
  pageSize: z.coerce.number().int().min(1).max(1000).optional(),
});

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  file: { type: 'string', short: 'f' },
  by: { type: 'string' },
  reason: { type: 'string' },
  status: { type: 'string' },
  provider: { type: 'string' },
  customer: { type: 'string' },
  'page-size': { type: 'string' },
  outcome: { type: 'string' },
  tenant: { type: 'string' },
  id: { type: 'string' },
  roles: { type: 'string' },
  'pay-ccy': { type: 'string' },
  'deposit-id': { type: 'string' },
  'ledger-id': { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  timeout: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Which options each command takes; any other is a usage error rather than silently ignored. */
const ALLOWED: Record<Exclude<Command['kind'], 'help' | 'keys-create' | 'reconcile'>, readonly (keyof Values)[]> = {
  create: ['file'],
  show: [],
  list: ['status', 'provider', 'customer', 'page-size'],
  approve: ['by', 'reason'],
  reject: ['by', 'reason'],
  cancel: ['by', 'reason'],
  resolve: ['outcome', 'by', 'reason'],
  complete: ['pay-ccy', 'deposit-id', 'ledger-id', 'by', 'reason'],
};

function parseKeysCommand(verb: string | undefined, rest: readonly string[], values: Values): Command {
  if (verb !== 'create') throw new UsageError(`unknown keys command "${verb ?? ''}"`);
  if (rest.length) throw new UsageError('keys create takes no arguments');
  for (const name of Object.keys(values) as (keyof Values)[]) {
    if (!['json', 'help', 'tenant', 'id', 'roles', 'file'].includes(name)) {
      throw new UsageError(`keys create takes no --${name}`);
    }
  }
  const tenant = TenantIdSchema.safeParse(values.tenant);
  if (!tenant.success)
    throw new UsageError(`--tenant: ${values.tenant ? tenant.error.issues[0]?.message : 'required'}`);
  const id = PrincipalIdSchema.safeParse(values.id);
  if (!id.success) throw new UsageError(`--id: ${values.id ? id.error.issues[0]?.message : 'required'}`);
  const roles = (values.roles ?? '')
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean);
  const known: readonly string[] = ROLES;
  const unknown = roles.filter((role) => !known.includes(role));
  if (roles.length === 0 || unknown.length) {
    throw new UsageError(
      `--roles: ${roles.length === 0 ? 'required' : `unknown ${unknown.join(', ')}`} (of ${ROLES.join(', ')})`,
    );
  }
  return { kind: 'keys-create', tenant: tenant.data, id: id.data, roles: roles as Role[], file: values.file };
}

export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const json = values.json ?? false;
  if (values.help || positionals.length === 0) return { command: { kind: 'help' }, json };

  const [noun, verb, ...rest] = positionals;
  if (noun === 'keys') return { command: parseKeysCommand(verb, rest, values), json };
  if (noun === 'reconcile') {
    if (verb !== undefined) throw new UsageError('reconcile takes no arguments, only options');
    for (const name of Object.keys(values) as (keyof Values)[]) {
      if (!['json', 'help', 'provider', 'since', 'until', 'timeout'].includes(name)) {
        throw new UsageError(`reconcile takes no --${name}`);
      }
    }
    return { command: parseReconcile(values), json };
  }
  if (noun !== 'invoice') throw new UsageError(`unknown command "${noun ?? ''}"`);
  const tenant = values.tenant ?? process.env.PAYORCH_TENANT;
  if (tenant !== undefined) {
    const parsedTenant = TenantIdSchema.safeParse(tenant);
    if (!parsedTenant.success) throw new UsageError(`--tenant: ${parsedTenant.error.issues[0]?.message ?? 'invalid'}`);
  }
  return { ...parseInvoiceCommand(verb, rest, values, json), ...(tenant ? { tenant } : {}) };
}

function parseInvoiceCommand(
  verb: string | undefined,
  rest: readonly string[],
  values: Values,
  json: boolean,
): ParsedArgs {
  if (!verb || !(verb in ALLOWED)) throw new UsageError(`unknown invoice command "${verb ?? ''}"`);
  const kind = verb as keyof typeof ALLOWED;
  const allowed = ALLOWED[kind];
  for (const name of Object.keys(values) as (keyof Values)[]) {
    if (name !== 'json' && name !== 'help' && name !== 'tenant' && !allowed.includes(name)) {
      throw new UsageError(`invoice ${kind} takes no --${name}`);
    }
  }

  const takesId = kind !== 'create' && kind !== 'list';
  if (rest.length !== (takesId ? 1 : 0)) {
    throw new UsageError(takesId ? `invoice ${kind} takes one invoice id` : `invoice ${kind} takes no arguments`);
  }
  switch (kind) {
    case 'create':
      if (!values.file) throw new UsageError('invoice create needs --file <request.json> ("-" for stdin)');
      return { command: { kind, file: values.file }, json };
    case 'list': {
      const filter = ListFilterSchema.safeParse({
        status: values.status,
        provider: values.provider,
        customerId: values.customer,
        pageSize: values['page-size'],
      });
      if (!filter.success) {
        const names: Record<string, string> = { customerId: 'customer', pageSize: 'page-size' };
        throw new UsageError(
          filter.error.issues
            .map((issue) => `--${names[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`)
            .join('; '),
        );
      }
      return { command: { kind, filter: filter.data }, json };
    }
    case 'show':
      return { command: { kind, invoiceId: rest[0] ?? '' }, json };
    case 'resolve':
      return {
        command: { kind, invoiceId: rest[0] ?? '', outcome: values.outcome, by: values.by, reason: values.reason },
        json,
      };
    case 'approve':
    case 'reject':
    case 'cancel':
      return { command: { kind, invoiceId: rest[0] ?? '', by: values.by, reason: values.reason }, json };
    case 'complete':
      return {
        command: {
          kind,
          invoiceId: rest[0] ?? '',
          payCcy: values['pay-ccy'],
          depositId: values['deposit-id'],
          ledgerId: values['ledger-id'],
          by: values.by,
          reason: values.reason,
        },
        json,
      };
  }
}
