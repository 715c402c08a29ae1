import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import {
  ForceCompleteFailedError,
  InvalidInvoiceRequestError,
  InvoiceConflictError,
  InvoiceNotFoundError,
  InvoiceStateError,
  NotAllowedError,
  type InvoiceClient,
} from '../client';
import { DecisionSchema, describeZodError, ForceCompletionSchema, ResolutionSchema } from '../domain/invoice';
import {
  AccessConfigError,
  addKey,
  createApiKey,
  hashApiKey,
  loadAccessDocument,
  type AccessDocument,
} from '../access/principals';
import { UsageError, USAGE, type Command } from './args';
import { GatewayError } from './reconcile';
import { formatList, formatStarted, formatState } from './format';

export const EXIT = { ok: 0, other: 1, usage: 2, notFound: 3, refused: 4 } as const;

export interface Output {
  /** The result, as JSON with --json, else as text. */
  stdout: string;
  exitCode: number;
}

async function readRequest(file: string, readStdin: () => Promise<string>): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`${file} is not valid JSON`);
  }
}

/**
 * A new key, shown once: its digest goes into the keys file (made if missing; written whole to a temporary file and
 * renamed, so a gateway reading it never sees half a document), or is printed for the operator to add.
 */
export async function createKey(command: Extract<Command, { kind: 'keys-create' }>, json: boolean): Promise<Output> {
  const key = createApiKey();
  const entry = { id: command.id, tenant: command.tenant, roles: command.roles };
  const digest = hashApiKey(key);
  let savedTo: string | undefined;
  if (command.file) {
    let document: AccessDocument = { tenants: {}, principals: [] };
    if (existsSync(command.file)) {
      document = loadAccessDocument({ keysFile: command.file }) ?? document;
    }
    const next = addKey(document, entry, digest);
    const temporary = `${command.file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, command.file);
    savedTo = command.file;
  }
  const record = { ...entry, keys: [digest] };
  const text = [
    `API key for ${command.id} (tenant ${command.tenant}; ${command.roles.join(', ')}). It is shown only now:`,
    '',
    `  ${key}`,
    '',
    savedTo
      ? `Its digest was added to ${savedTo}; restart the gateway (or re-deploy) to take it up.`
      : `Add this entry to the "principals" of your keys file (GATEWAY_KEYS_FILE):\n${JSON.stringify(record, null, 2)}`,
  ].join('\n');
  return {
    stdout: json ? JSON.stringify({ key, principal: record, file: savedTo }, null, 2) : text,
    exitCode: EXIT.ok,
  };
}

/** Runs one command against the client library; the caller prints and exits. */
export async function runCommand(
  command: Exclude<Command, { kind: 'help' | 'keys-create' | 'reconcile' }>,
  json: boolean,
  deps: { invoices: InvoiceClient; readStdin: () => Promise<string> },
): Promise<Output> {
  const { invoices } = deps;
  const render = <T>(value: T, text: (value: T) => string): Output => ({
    stdout: json ? JSON.stringify(value, null, 2) : text(value),
    exitCode: EXIT.ok,
  });
  switch (command.kind) {
    case 'create': {
      const started = await invoices.startInvoice(await readRequest(command.file, deps.readStdin));
      const { invoiceId, workflowId, created } = started;
      return render({ invoiceId, workflowId, created }, () => formatStarted(started));
    }
    case 'show':
      return render(await invoices.getInvoice(command.invoiceId), formatState);
    case 'list':
      return render(await invoices.listInvoices(command.filter), formatList);
    case 'approve':
    case 'reject':
    case 'cancel': {
      const parsed = DecisionSchema.safeParse({
        by: command.by ?? `cli:${os.userInfo().username}`,
        reason: command.reason,
      });
      if (!parsed.success) throw new UsageError(describeZodError(parsed.error));
      const decide = {
        approve: invoices.approveInvoice,
        reject: invoices.rejectInvoice,
        cancel: invoices.cancelInvoice,
      };
      return render(await decide[command.kind](command.invoiceId, parsed.data), formatState);
    }
    case 'resolve': {
      const parsed = ResolutionSchema.safeParse({
        outcome: command.outcome,
        reason: command.reason,
        by: command.by ?? `cli:${os.userInfo().username}`,
      });
      if (!parsed.success) throw new UsageError(describeZodError(parsed.error));
      return render(await invoices.resolveInvoice(command.invoiceId, parsed.data), formatState);
    }
    case 'complete': {
      // Ids are whole numbers on the command line; anything else stays a string and fails the schema by name.
      const id = (value: string | undefined) => (value !== undefined && /^\d+$/.test(value) ? Number(value) : value);
      const parsed = ForceCompletionSchema.safeParse({
        by: command.by ?? `cli:${os.userInfo().username}`,
        reason: command.reason,
        payCcy: command.payCcy,
        depositId: id(command.depositId),
        ledgerId: id(command.ledgerId),
      });
      if (!parsed.success) throw new UsageError(describeZodError(parsed.error));
      return render(await invoices.forceCompleteInvoice(command.invoiceId, parsed.data), formatState);
    }
  }
}

/** The exit code and the message for a failed command: typed errors map to the documented codes. */
export function failure(error: unknown, json: boolean): { exitCode: number; message: string; body: unknown } {
  const as = (exitCode: number, type: string, message: string, extra: Record<string, unknown> = {}) => ({
    exitCode,
    message: json ? '' : message,
    body: { error: { type, message, ...extra } },
  });
  if (error instanceof UsageError) return as(EXIT.usage, error.type, `${error.message}\n\n${USAGE}`);
  if (error instanceof AccessConfigError) return as(EXIT.usage, error.type, error.message);
  if (error instanceof InvalidInvoiceRequestError) {
    return as(EXIT.usage, error.type, error.message, { issues: error.issues });
  }
  if (error instanceof InvoiceNotFoundError) return as(EXIT.notFound, error.type, error.message);
  if (
    error instanceof InvoiceStateError ||
    error instanceof NotAllowedError ||
    error instanceof InvoiceConflictError ||
    error instanceof ForceCompleteFailedError
  ) {
    return as(EXIT.refused, error.type, error.message);
  }
  if (error instanceof GatewayError) {
    const code =
      error.status === 404
        ? EXIT.notFound
        : error.status === 400
          ? EXIT.usage
          : error.status === 403
            ? EXIT.refused
            : EXIT.other;
    return as(code, error.type, error.message);
  }
  return as(EXIT.other, 'Error', error instanceof Error ? error.message : String(error));
}
