// Process figures from /proc (Linux), so each process of the run is measured from outside and apart from the others.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux the benchmark targets (x86-64 and arm64 kernels fix it there). */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  rssBytes: number;
  /** The kernel's own high-water mark of the RSS, for the whole life of the process. */
  hwmBytes: number;
  cpuSeconds: number;
  /** CPU of its children that have ended and been waited for (cutime + cstime). */
  childCpuSeconds: number;
}

function statusKiB(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match?.[1] ? Number(match[1]) : 0;
}

export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11] ?? 0);
    const stime = Number(fields[12] ?? 0);
    const cutime = Number(fields[13] ?? 0);
    const cstime = Number(fields[14] ?? 0);
    return {
      rssBytes: statusKiB(status, 'VmRSS') * 1024,
      hwmBytes: statusKiB(status, 'VmHWM') * 1024,
      cpuSeconds: (utime + stime) / TICKS_PER_SECOND,
      childCpuSeconds: (cutime + cstime) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** Every process below `root` (children, their children…), from the parent ids in /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(parent) ?? [];
      list.push(Number(entry));
      children.set(parent, list);
    } catch {
      // Gone between the listing and the read: it no longer counts.
    }
  }
  const found: number[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/**
 * CPU of a process and everything below it: each live process's own time plus what its ended children left in its
 * cutime, so every CPU second is counted once whether the child that spent it is alive or gone. For PostgreSQL, whose
 * work is done in one backend process per connection, forked from the postmaster we know the pid of.
 */
export function treeCpuSeconds(root: number): number | undefined {
  const own = sampleProcess(root);
  if (!own) return undefined;
  let total = own.cpuSeconds + own.childCpuSeconds;
  for (const pid of descendants(root)) {
    const sample = sampleProcess(pid);
    if (sample) total += sample.cpuSeconds + sample.childCpuSeconds;
  }
  return total;
}

/** The dev server's own process (not its guard shell, whose command line names the same arguments). */
export function findTemporalServerPid(port: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const portAt = argv.indexOf('--port');
    if (argv[0]?.endsWith('temporal') && argv.includes('start-dev') && portAt > 0 && argv[portAt + 1] === port) {
      return Number(entry);
    }
  }
  return undefined;
}

export interface ProcessUsage {
  cpuSeconds: number;
  /** cpuSeconds over the wall time: 1.0 is one core kept busy. */
  cores: number;
  peakRssBytes: number;
}

/**
 * Samples groups of processes every `intervalMs` between `start()` and `stop()`. A group (the worker processes of
 * `--workers 2`, say) reports the sum of its processes' CPU and the peak of their summed RSS. CPU is counted per pid
 * from the phase's start to its end, so a process that restarts mid-phase (a cluster service) loses only its own part;
 * the groups named in `trees` count each pid's descendants too (read at the start and the end only: it walks /proc).
 */
export class ProcessMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly first = new Map<number, number>();
  private readonly peak = new Map<string, number>();
  private startedAt = 0;

  constructor(
    private readonly groups: Record<string, readonly number[]>,
    private readonly trees: ReadonlySet<string> = new Set(),
    private readonly intervalMs = 250,
  ) {}

  private cpu(name: string, pid: number): number | undefined {
    return this.trees.has(name) ? treeCpuSeconds(pid) : sampleProcess(pid)?.cpuSeconds;
  }

  start(): void {
    this.startedAt = Date.now();
    for (const [name, pids] of Object.entries(this.groups)) {
      for (const pid of pids) {
        const cpu = this.cpu(name, pid);
        if (cpu !== undefined) this.first.set(pid, cpu);
      }
    }
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), this.intervalMs);
    this.timer.unref();
  }

  private sampleRss(): void {
    for (const [name, pids] of Object.entries(this.groups)) {
      const rss = pids.reduce((sum, pid) => sum + (sampleProcess(pid)?.rssBytes ?? 0), 0);
      this.peak.set(name, Math.max(this.peak.get(name) ?? 0, rss));
    }
  }

  stop(): Record<string, ProcessUsage> {
    clearInterval(this.timer);
    this.sampleRss();
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 1e-3);
    const usage: Record<string, ProcessUsage> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      let cpuSeconds = 0;
      let seen = 0;
      for (const pid of pids) {
        const first = this.first.get(pid);
        const last = this.cpu(name, pid);
        if (first === undefined || last === undefined) continue;
        cpuSeconds += last - first;
        seen++;
      }
      if (seen === 0) continue;
      usage[name] = { cpuSeconds, cores: cpuSeconds / seconds, peakRssBytes: this.peak.get(name) ?? 0 };
    }
    return usage;
  }
}
