import type { InvoiceSummary, StartedInvoice } from '../client';
import { formatMoney } from '../domain/money';
import type { CurrencyCode } from '../domain/money';
import type { InvoiceState } from '../workflows/definitions';

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const money = (amount: number | undefined, currency: string | undefined): string =>
  amount === undefined || currency === undefined ? '' : formatMoney(amount, currency as CurrencyCode);

export function formatState(state: InvoiceState): string {
  const lines: (string | undefined)[] = [
    `Invoice ${state.invoiceId}: ${state.status}`,
    `  ${state.direction} ${money(state.amount, state.currency)} via ${state.provider} for ${state.customerId}`,
    state.waitingFor ? `  waiting for: ${state.waitingFor}` : undefined,
    state.providerStatus ? `  provider status: ${state.providerStatus}` : undefined,
    state.approval
      ? `  ${state.approval.decision} by ${state.approval.by} at ${state.approval.at}${state.approval.reason ? ` (${state.approval.reason})` : ''}`
      : undefined,
    state.forcedCompletion
      ? `  completed by hand (forced) by ${state.forcedCompletion.by}: ${state.forcedCompletion.outcome}` +
        `${state.forcedCompletion.detail ? ` (${state.forcedCompletion.detail})` : ''}`
      : undefined,
    state.failure ? `  failed at ${state.failure.step}: ${state.failure.type}: ${state.failure.message}` : undefined,
    Object.keys(state.providerRefs).length
      ? `  provider refs: ${Object.entries(state.providerRefs)
          .map(([key, value]) => `${key}=${value}`)
          .join(', ')}`
      : undefined,
    `  events: ${state.eventsApplied} applied, ${state.eventsIgnored} ignored`,
    state.transitions.length ? '' : undefined,
    state.transitions.length
      ? table([['STATUS', 'AT', 'NOTE'], ...state.transitions.map((t) => [t.status, t.at, t.note ?? ''])])
      : undefined,
  ];
  return lines.filter((line) => line !== undefined).join('\n');
}

export function formatList(page: { invoices: InvoiceSummary[]; nextPageToken?: string }): string {
  if (page.invoices.length === 0) return 'No invoices.';
  const rows = page.invoices.map((invoice) => [
    invoice.invoiceId,
    invoice.status ?? '',
    invoice.provider ?? '',
    money(invoice.amount, invoice.currency),
    invoice.customerId ?? '',
    invoice.startedAt ?? '',
  ]);
  const more = page.nextPageToken ? '\n(more invoices: narrow the filter or raise --page-size)' : '';
  return `${table([['INVOICE', 'STATUS', 'PROVIDER', 'AMOUNT', 'CUSTOMER', 'STARTED'], ...rows])}${more}`;
}

export function formatStarted(started: StartedInvoice): string {
  return started.created
    ? `Invoice ${started.invoiceId} started (workflow ${started.workflowId}).`
    : `Invoice ${started.invoiceId} already exists with this same request (workflow ${started.workflowId}).`;
}
