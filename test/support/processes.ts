import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface Spawned {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Runs a command in its own process group, as a terminal would, so a test can send Ctrl-C to all of it. */
export function spawnGroup(command: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${output}`);
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before ${pattern}; output:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/** Processes whose command line contains `needle` (our marker: a temp folder unique to the test). */
export function processesMatching(needle: string): string[] {
  const result = spawnSync('pgrep', ['-af', needle], { encoding: 'utf8' });
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .filter((line) => !line.includes('pgrep'));
}
