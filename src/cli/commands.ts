import { readFile } from 'node:fs/promises';
import os from 'node:os';
import {
  InvalidInvoiceRequestError,
  InvoiceConflictError,
  InvoiceNotFoundError,
  InvoiceStateError,
  NotAllowedError,
  type InvoiceClient,
} from '../client';
import { DecisionSchema, describeZodError, ResolutionSchema } from '../domain/invoice';
import { UsageError, USAGE, type Command } from './args';
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

/** Runs one command against the client library; the caller prints and exits. */
export async function runCommand(
  command: Exclude<Command, { kind: 'help' }>,
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
  if (error instanceof InvalidInvoiceRequestError) {
    return as(EXIT.usage, error.type, error.message, { issues: error.issues });
  }
  if (error instanceof InvoiceNotFoundError) return as(EXIT.notFound, error.type, error.message);
  if (error instanceof InvoiceStateError || error instanceof NotAllowedError || error instanceof InvoiceConflictError) {
    return as(EXIT.refused, error.type, error.message);
  }
  return as(EXIT.other, 'Error', error instanceof Error ? error.message : String(error));
}
