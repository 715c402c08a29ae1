import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { round } from './stats';

export interface Machine {
  cpuModel: string;
  cpus: number;
  totalMemGiB: number;
  os: string;
  node: string;
  temporalCli?: string;
}

export function describeMachine(temporalCli: string | undefined): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    totalMemGiB: round(os.totalmem() / 1024 ** 3, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    temporalCli,
  };
}

export interface Row {
  metric: string;
  ours: number | string | undefined;
  baseline?: number | string;
  /** Ours ÷ baseline. */
  ratio?: number;
  target?: string;
  met?: boolean;
}

function cell(value: number | string | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 0 : 2);
}

export function markdownTable(rows: readonly Row[]): string {
  const lines = ['| Metric | Ours | Baseline | Ours ÷ baseline | Target | Met? |', '|---|---:|---:|---:|---|:---:|'];
  for (const row of rows) {
    const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
    lines.push(
      `| ${row.metric} | ${cell(row.ours)} | ${cell(row.baseline)} | ${cell(row.ratio)} | ${row.target ?? ''} | ${met} |`,
    );
  }
  return lines.join('\n');
}

export function breakdownTable(ours: Record<string, number>, baseline: Record<string, number> | undefined): string {
  const keys = [...new Set([...Object.keys(ours), ...Object.keys(baseline ?? {})])].sort();
  const lines = ['| Event type | Ours | Baseline |', '|---|---:|---:|'];
  for (const key of keys) lines.push(`| ${key} | ${cell(ours[key] ?? 0)} | ${cell(baseline?.[key] ?? 0)} |`);
  return lines.join('\n');
}

export function resultStamp(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/** Writes `<stamp>.json`, `<stamp>.md` and, from the open-loop modes, `<stamp>.svg`; returns their paths. */
export function writeResult(dir: string, stamp: string, json: unknown, markdown: string, svg?: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [path.join(dir, `${stamp}.json`), path.join(dir, `${stamp}.md`)];
  writeFileSync(files[0] ?? '', `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(files[1] ?? '', markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  if (svg !== undefined) {
    const file = path.join(dir, `${stamp}.svg`);
    writeFileSync(file, svg);
    files.push(file);
  }
  return files;
}

/** The largest summed gaps between history events, ours beside the baseline's: the wall-time profile of an invoice. */
export function gapsTable(
  ours: Record<string, number>,
  baseline: Record<string, number>,
  spans: { ours: number; baseline: number },
  top = 12,
): string {
  const keys = [...new Set([...Object.keys(ours), ...Object.keys(baseline)])]
    .sort((a, b) => Math.max(ours[b] ?? 0, baseline[b] ?? 0) - Math.max(ours[a] ?? 0, baseline[a] ?? 0))
    .slice(0, top);
  const lines = ['| Between events | Ours (ms) | Baseline (ms) |', '|---|---:|---:|'];
  for (const key of keys) lines.push(`| ${key} | ${cell(ours[key] ?? 0)} | ${cell(baseline[key] ?? 0)} |`);
  lines.push(`| **first → last event** | ${cell(spans.ours)} | ${cell(spans.baseline)} |`);
  return lines.join('\n');
}
