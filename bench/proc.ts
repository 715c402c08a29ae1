// Process figures from /proc (Linux), so each process of the run is measured from outside and apart from the others.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux the benchmark targets (x86-64 and arm64 kernels fix it there). */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  rssBytes: number;
  /** The kernel's own high-water mark of the RSS, for the whole life of the process. */
  hwmBytes: number;
  cpuSeconds: number;
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
    return {
      rssBytes: statusKiB(status, 'VmRSS') * 1024,
      hwmBytes: statusKiB(status, 'VmHWM') * 1024,
      cpuSeconds: (utime + stime) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
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
 * from its first sample to its last, so a process that restarts mid-phase (a cluster service) loses only its own part.
 */
export class ProcessMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly first = new Map<number, ProcSample>();
  private readonly last = new Map<number, ProcSample>();
  private readonly peak = new Map<string, number>();
  private startedAt = 0;

  constructor(
    private readonly groups: Record<string, readonly number[]>,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.startedAt = Date.now();
    this.sample(this.first);
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  private sample(into?: Map<number, ProcSample>): void {
    for (const [name, pids] of Object.entries(this.groups)) {
      let rss = 0;
      for (const pid of pids) {
        const sample = sampleProcess(pid);
        if (!sample) continue;
        into?.set(pid, sample);
        this.last.set(pid, sample);
        rss += sample.rssBytes;
      }
      this.peak.set(name, Math.max(this.peak.get(name) ?? 0, rss));
    }
  }

  stop(): Record<string, ProcessUsage> {
    clearInterval(this.timer);
    this.sample();
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 1e-3);
    const usage: Record<string, ProcessUsage> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      const seen = pids.filter((pid) => this.first.has(pid) && this.last.has(pid));
      if (seen.length === 0) continue;
      const cpuSeconds = seen.reduce(
        (sum, pid) => sum + (this.last.get(pid)?.cpuSeconds ?? 0) - (this.first.get(pid)?.cpuSeconds ?? 0),
        0,
      );
      usage[name] = { cpuSeconds, cores: cpuSeconds / seconds, peakRssBytes: this.peak.get(name) ?? 0 };
    }
    return usage;
  }
}
