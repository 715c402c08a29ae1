import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Logger } from '../logger';

export class ClusterStartError extends Error {
  readonly type = 'ClusterStart';
}

export interface ProcessSpec {
  /** Unique within the supervisor: `temporal-history`, `invoice-worker-1`. */
  name: string;
  command: string;
  args: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Runs the process as this user (PostgreSQL refuses to run as root). */
  user?: string;
  /** Its stdout and stderr go here, appended: a cluster's services log too much for a terminal. */
  logFile: string;
  /** The signal that asks it to stop cleanly (PostgreSQL: SIGINT, a fast shutdown). */
  stopSignal?: NodeJS.Signals;
  /** Started again when it exits on its own after the cluster is up, as an orchestrator would. */
  restart?: boolean;
}

export interface Supervised {
  readonly spec: ProcessSpec;
  /** The current process's pid (a new one after a restart). */
  pid(): number;
  running(): boolean;
  /** Resolves when the current process has exited. */
  exited(): Promise<void>;
  /** How many times it was started again. */
  restarts(): number;
}

interface Entry extends Supervised {
  child: ChildProcess;
  exit: Promise<void>;
  restartCount: number;
}

const STOP_GRACE_MS = 15_000;

/**
 * Starts processes each in its own process group and stops them all, newest first. Every child carries a
 * parent-death signal (setpriv --pdeathsig): if this process dies without stopping them, even by SIGKILL, the kernel
 * ends them, so nothing is left behind however the supervisor ends.
 */
export class Supervisor {
  private readonly entries: Entry[] = [];
  private stopping = false;
  /** Until then, any exit fails the start: a restart loop would only hide why a service cannot come up. */
  private up = false;
  private readonly logs = new Map<string, WriteStream>();
  /** Called when a process that must stay up exits while the cluster is starting or running. */
  onUnexpectedExit: (name: string, code: number | null, signal: NodeJS.Signals | null) => void = () => undefined;

  /** Called after a process was started again (its pid changed). */
  onRestarted: (name: string) => void = () => undefined;

  constructor(private readonly logger: Logger) {}

  start(spec: ProcessSpec): Supervised {
    if (this.entries.some((entry) => entry.spec.name === spec.name))
      throw new ClusterStartError(`${spec.name} is already supervised`);
    const entry = this.launch(spec, 0);
    this.entries.push(entry);
    return entry;
  }

  /** Everything is up: from now on a process marked `restart` that exits is started again. */
  markUp(): void {
    this.up = true;
  }

  get(name: string): Supervised | undefined {
    return this.entries.find((entry) => entry.spec.name === name);
  }

  list(): readonly Supervised[] {
    return this.entries;
  }

  private log(spec: ProcessSpec): WriteStream {
    let stream = this.logs.get(spec.logFile);
    if (!stream) {
      stream = createWriteStream(spec.logFile, { flags: 'a' });
      this.logs.set(spec.logFile, stream);
    }
    return stream;
  }

  private launch(spec: ProcessSpec, restartCount: number): Entry {
    const entry = {
      spec,
      restartCount,
      pid: () => entry.child.pid ?? 0,
      running: () => entry.child.exitCode === null && entry.child.signalCode === null,
      exited: () => entry.exit,
      restarts: () => entry.restartCount,
    } as Entry;
    this.spawnInto(entry);
    return entry;
  }

  private spawnInto(entry: Entry): void {
    const { spec } = entry;
    const identity = spec.user ? ['--reuid', spec.user, '--regid', spec.user, '--init-groups'] : [];
    const child = spawn('setpriv', [...identity, '--pdeathsig', 'KILL', '--', spec.command, ...spec.args], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = this.log(spec);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    entry.child = child;
    entry.exit = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        // Its own children (PostgreSQL's backends) go with it: the group is one unit.
        killGroup(child, 'SIGKILL');
        resolve();
        if (!this.stopping) this.exitedOnItsOwn(entry, code, signal);
      });
      child.once('error', (error) => {
        this.logger.error({ err: error, process: spec.name }, 'could not start');
        resolve();
      });
    });
  }

  private exitedOnItsOwn(entry: Entry, code: number | null, signal: NodeJS.Signals | null): void {
    if (entry.spec.restart && this.up) {
      this.logger.warn({ process: entry.spec.name, code, signal }, 'exited; starting it again');
      // A short pause so a process that fails at once does not spin.
      setTimeout(() => {
        if (this.stopping) return;
        entry.restartCount += 1;
        this.spawnInto(entry);
        this.onRestarted(entry.spec.name);
      }, 1000).unref();
      return;
    }
    this.onUnexpectedExit(entry.spec.name, code, signal);
  }

  /** Stops the newest first (workers before the services they use, PostgreSQL last), then kills what is left. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const entry of [...this.entries].reverse()) {
      if (entry.running()) {
        killGroup(entry.child, entry.spec.stopSignal ?? 'SIGTERM');
        const timer = setTimeout(() => killGroup(entry.child, 'SIGKILL'), STOP_GRACE_MS);
        await entry.exit;
        clearTimeout(timer);
      }
      killGroup(entry.child, 'SIGKILL');
    }
    await Promise.all([...this.logs.values()].map((stream) => new Promise((resolve) => stream.end(resolve))));
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}
