// `npm run bench:profile -- DIR [--top N]`: where the CPU went in the V8 profiles a run wrote with BENCH_CPU_PROF_DIR,
// by role (the subfolder bench/stack.ts gives each child) and thread, as Markdown. DevTools shows one profile at a time
// and no totals by file or package, which is what an account of a run's CPU needs.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { round } from './stats';

const callFrameSchema = z.object({
  functionName: z.string(),
  url: z.string(),
  lineNumber: z.number(),
  columnNumber: z.number(),
});

const cpuProfileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: callFrameSchema,
      hitCount: z.number().optional(),
      children: z.array(z.number()).optional(),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

export type CpuProfile = z.infer<typeof cpuProfileSchema>;
type CallFrame = z.infer<typeof callFrameSchema>;

export function parseProfile(json: unknown): CpuProfile {
  return cpuProfileSchema.parse(json);
}

/** V8's pseudo-frames: not code, so each is a category of its own and never a "top function". */
const SPECIAL = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

export interface FunctionTime {
  name: string;
  /** Short: the project-relative path, the path inside its package, or the node: url; 1-based line. */
  where: string;
  ms: number;
  percentOfBusy: number;
}

export interface ProfileSummary {
  /** The time the samples account for (the sum of their deltas). */
  profiledMs: number;
  /** profiledMs less (idle): the thread was running something, ours or not. */
  busyMs: number;
  /** By category, most first; `(idle)` is among them, its percentage of busy time meaningless and so 0. */
  categories: { category: string; ms: number; percentOfBusy: number }[];
  top: FunctionTime[];
}

/** A url as a plain path: ESM (tsx's loader) reports file:// urls, CommonJS absolute paths. */
function filePath(url: string): string {
  if (!url.startsWith('file://')) return url;
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}

/** The package of a path inside node_modules: the last segment wins, as Node resolves nested copies that way. */
function npmPackage(file: string): { name: string; inner: string } | undefined {
  const marker = '/node_modules/';
  const at = file.lastIndexOf(marker);
  if (at < 0) return undefined;
  const parts = file.slice(at + marker.length).split('/');
  const scoped = parts[0]?.startsWith('@') ?? false;
  const name = parts.slice(0, scoped ? 2 : 1).join('/');
  return { name, inner: parts.join('/') };
}

/**
 * The project-relative path of a file of ours. The last `/src/` or `/bench/` rather than a fixed root, so profiles
 * recorded in another checkout (another worktree, a CI machine) are read the same; neither folder nests another.
 */
function ourPath(file: string): string | undefined {
  const at = Math.max(file.lastIndexOf('/src/'), file.lastIndexOf('/bench/'));
  return at < 0 ? undefined : file.slice(at + 1);
}

function classify(frame: CallFrame): { category: string; where: string } {
  if (SPECIAL.has(frame.functionName) && frame.url === '') return { category: frame.functionName, where: '' };
  const { url } = frame;
  if (url === '' || url.startsWith('node:')) return { category: 'node: internals', where: url || '(native)' };
  const file = filePath(url);
  // The SDK runs the bundle in a vm context under the name webpack gave it (workflow-bundle-<hash>.js, or the prebuilt
  // dist/workflow-bundle.js): frames of our workflows and of the SDK's workflow library alike, not told apart here.
  if (path.basename(file).startsWith('workflow-bundle'))
    return { category: 'workflow bundle', where: 'workflow bundle' };
  const npm = npmPackage(file);
  if (npm) return { category: `npm: ${npm.name}`, where: npm.inner };
  const ours = ourPath(file);
  if (ours) return { category: `ours: ${ours}`, where: ours };
  return { category: `other: ${url}`, where: path.basename(file) };
}

export function summariseProfile(profile: CpuProfile, options: { top?: number } = {}): ProfileSummary {
  const selfUs = new Map<number, number>();
  // V8 records timeDeltas[i] as the time since the sample before i: it is given to sample i.
  const count = Math.min(profile.samples.length, profile.timeDeltas.length);
  for (let i = 0; i < count; i++) {
    const id = profile.samples[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }

  const byCategory = new Map<string, number>();
  // The same function shows up as one node per call path: its self time is theirs together.
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  let profiledUs = 0;
  const known = new Set(profile.nodes.map((node) => node.id));
  for (const id of selfUs.keys()) {
    if (!known.has(id)) throw new Error(`a sample names node ${id}, which the profile does not have`);
  }
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    profiledUs += us;
    const { category, where } = classify(node.callFrame);
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    if (SPECIAL.has(category)) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    const at = node.callFrame.url ? `${where}:${node.callFrame.lineNumber + 1}` : where;
    const key = `${name}\u0000${at}`;
    const entry = byFunction.get(key) ?? { name, where: at, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }

  const busyUs = profiledUs - (byCategory.get('(idle)') ?? 0);
  const percent = (us: number) => (busyUs > 0 ? round((100 * us) / busyUs, 1) : 0);
  const ms = (us: number) => round(us / 1000, 1);
  return {
    profiledMs: ms(profiledUs),
    busyMs: ms(busyUs),
    categories: [...byCategory]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([category, us]) => ({ category, ms: ms(us), percentOfBusy: category === '(idle)' ? 0 : percent(us) })),
    top: [...byFunction.values()]
      .sort((a, b) => b.us - a.us || a.name.localeCompare(b.name))
      .slice(0, options.top ?? 15)
      .map((f) => ({ name: f.name, where: f.where, ms: ms(f.us), percentOfBusy: percent(f.us) })),
  };
}

/** Node names a profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main one. */
export function threadOf(file: string): string {
  const match = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(path.basename(file));
  if (!match) return path.basename(file);
  const [, pid, thread] = match;
  return `pid ${pid}, ${thread === '0' ? 'main thread' : `worker thread ${thread}`}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** Categories under this share of busy time are summed into one row: a few hundred packages would drown the rest. */
const SMALL_CATEGORY_PERCENT = 0.5;

/** The kind of a category: our code, a package, Node itself, the workflow sandbox, or V8's own work. */
function kindOf(category: string): string {
  if (category.startsWith('ours: ')) return 'ours';
  if (category.startsWith('npm: ')) return 'npm packages';
  if (category === '(idle)') return '(idle)';
  if (category.startsWith('(')) return 'V8 (GC, program)';
  return category.startsWith('node: ') ? 'node internals' : category.startsWith('other: ') ? 'other' : category;
}

export function profileMarkdown(title: string, summary: ProfileSummary): string {
  const share = summary.profiledMs > 0 ? round((100 * summary.busyMs) / summary.profiledMs, 1) : 0;
  const shown = summary.categories.filter((c) => c.category === '(idle)' || c.percentOfBusy >= SMALL_CATEGORY_PERCENT);
  const rest = summary.categories.filter((c) => !shown.includes(c));
  const byKind = new Map<string, number>();
  for (const c of summary.categories) {
    if (c.category !== '(idle)') byKind.set(kindOf(c.category), (byKind.get(kindOf(c.category)) ?? 0) + c.ms);
  }
  const kinds = [...byKind]
    .sort((a, b) => b[1] - a[1])
    .map(
      ([kind, ms]) =>
        `${kind} ${round(ms, 1)} ms (${summary.busyMs > 0 ? round((100 * ms) / summary.busyMs, 1) : 0} %)`,
    );
  const restMs = round(
    rest.reduce((sum, c) => sum + c.ms, 0),
    1,
  );
  return [
    `### ${title}`,
    `Profiled ${summary.profiledMs} ms, busy ${summary.busyMs} ms (${share} %). Busy by kind: ${kinds.join(', ')}.`,
    ['| Category | ms | % of busy |', '| --- | ---: | ---: |']
      .concat(
        shown.map((c) => `| ${cell(c.category)} | ${c.ms} | ${c.category === '(idle)' ? '—' : c.percentOfBusy} |`),
        rest.length
          ? [
              `| ${rest.length} more, each under ${SMALL_CATEGORY_PERCENT} % | ${restMs} | ${summary.busyMs > 0 ? round((100 * restMs) / summary.busyMs, 1) : 0} |`,
            ]
          : [],
      )
      .join('\n'),
    ['| Function (self time) | Where | ms | % of busy |', '| --- | --- | ---: | ---: |']
      .concat(summary.top.map((f) => `| ${cell(f.name)} | ${cell(f.where)} | ${f.ms} | ${f.percentOfBusy} |`))
      .join('\n'),
  ].join('\n\n');
}

// A walk of our own: Dirent.parentPath, which the recursive readdir needs, is newer than the Node 20 we support.
function profileFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return profileFiles(full);
      return entry.isFile() && entry.name.endsWith('.cpuprofile') ? [full] : [];
    })
    .sort();
}

function main(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { top: { type: 'string' } },
    allowPositionals: true,
  });
  const dir = positionals[0];
  const top = values.top === undefined ? 15 : Number(values.top);
  if (!dir || positionals.length > 1 || !Number.isInteger(top) || top < 0) {
    throw new Error('usage: npm run bench:profile -- DIR [--top N]');
  }
  const files = profileFiles(dir);
  if (files.length === 0) throw new Error(`no .cpuprofile files under ${dir}`);

  const byRole = new Map<string, string[]>();
  for (const file of files) {
    // Profiles written straight into DIR come from a run before the per-role folders.
    const role = path.relative(dir, path.dirname(file)) || '(no role folder)';
    byRole.set(role, [...(byRole.get(role) ?? []), file]);
  }
  const sections = [...byRole].map(([role, roleFiles]) =>
    [
      `## ${role}`,
      ...roleFiles.map((file) => {
        const profile = parseProfile(JSON.parse(readFileSync(file, 'utf8')));
        return profileMarkdown(`${threadOf(file)} (${path.basename(file)})`, summariseProfile(profile, { top }));
      }),
    ].join('\n\n'),
  );
  const markdown = [`# CPU profiles in ${dir}`, ...sections].join('\n\n') + '\n';
  const out = path.join(dir, 'summary.md');
  writeFileSync(out, markdown);
  process.stdout.write(`${markdown}\nWritten: ${out}\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
