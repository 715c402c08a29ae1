// `--compare <results.json>`: every numeric figure of a result beside an earlier one. A report for a person to read,
// never a check that fails: the machine, its load and the settings all move figures as much as code does.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { round } from './stats';

export function readResult(file: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} is not a benchmark result (a JSON object)`);
  }
  return parsed as Record<string, unknown>;
}

/** Not figures: where and how the run was made (compared apart, as notes). */
const CONTEXT_KEYS = new Set(['timestamp', 'machine', 'settings', 'seed']);
/** Settings whose difference makes two results hard to compare, named in the notes. */
const SETTINGS_NOTED = [
  'mode',
  'invoices',
  'concurrency',
  'provider',
  'direction',
  'faultRate',
  'target',
  'workerProcesses',
] as const;

/** Numeric leaves by path (`latencyMs.ours.e2e.p99`, `rates[1].ours.completedPerSecond`). */
export function flatten(value: unknown, prefix = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof value === 'number' && Number.isFinite(value)) {
    out.set(prefix, value);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => flatten(item, `${prefix}[${index}]`, out));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      if (!prefix && CONTEXT_KEYS.has(key)) continue;
      flatten(child, prefix ? `${prefix}.${key}` : key, out);
    }
  }
  return out;
}

function field(result: Record<string, unknown>, group: string, key: string): unknown {
  const parent = result[group];
  return typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[key] : undefined;
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : String(round(value, 2));
}

/** A markdown report: one row per figure present in both results, then what only one of them has. */
export function compareResults(before: Record<string, unknown>, now: Record<string, unknown>, label: string): string {
  const a = flatten(before);
  const b = flatten(now);
  const notes: string[] = [];
  for (const key of SETTINGS_NOTED) {
    const was = JSON.stringify(field(before, 'settings', key));
    const is = JSON.stringify(field(now, 'settings', key));
    if (was !== is) notes.push(`settings.${key}: ${was ?? 'unset'} → ${is ?? 'unset'}`);
  }
  const cpu = (r: Record<string, unknown>) =>
    `${String(field(r, 'machine', 'cpus'))} × ${String(field(r, 'machine', 'cpuModel'))}`;
  if (cpu(before) !== cpu(now)) notes.push(`machine: ${cpu(before)} → ${cpu(now)}`);
  const lines = [
    `Compared with ${label} (${typeof before.timestamp === 'string' ? before.timestamp : 'no timestamp'}): a report, not a check. Latencies, CPU ` +
      'and actions are better lower; invoices / s better higher.',
    ...(notes.length ? ['', 'Not the same run conditions:', ...notes.map((n) => `- ${n}`)] : []),
    '',
    '| Figure | Before | Now | Change | Change % |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const [key, now] of b) {
    const was = a.get(key);
    if (was === undefined) continue;
    const change = now - was;
    const percent =
      was === 0 ? (now === 0 ? '0' : 'new') : `${change >= 0 ? '+' : ''}${round((change / was) * 100, 1)}`;
    lines.push(
      `| ${key} | ${format(was)} | ${format(now)} | ${change >= 0 ? '+' : ''}${format(change)} | ${percent} |`,
    );
  }
  const onlyBefore = [...a.keys()].filter((key) => !b.has(key));
  const onlyNow = [...b.keys()].filter((key) => !a.has(key));
  if (onlyBefore.length) lines.push('', `Only in the earlier result (${onlyBefore.length}): ${onlyBefore.join(', ')}`);
  if (onlyNow.length) lines.push('', `Only in this result (${onlyNow.length}): ${onlyNow.join(', ')}`);
  return lines.join('\n');
}

export function compareFiles(earlierFile: string, now: Record<string, unknown>): string {
  return compareResults(readResult(earlierFile), now, path.basename(earlierFile));
}
