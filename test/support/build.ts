import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './processes';

const BUILD_TIMEOUT_MS = 240_000;

/** A hook that builds (or waits for the build) needs longer than jest's default timeout on two busy cores. */
export const BUILD_WAIT_MS = BUILD_TIMEOUT_MS + 120_000;

function runBuild(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/**
 * `npm run build` once per jest run, for the tests that run built JavaScript (`payorch`, the packed package): the
 * first test file to ask builds while the others wait for it, so `dist/` is this run's source, built once. The run's
 * id (set by the global setup) names the lock, so a lock left by an earlier, killed run never blocks this one.
 */
export async function ensureBuilt(): Promise<void> {
  const run = process.env.TEST_RUN_ID ?? `pid-${process.pid}`;
  const base = path.join(os.tmpdir(), `payorch-build-${run}`);
  const done = `${base}.done`;
  const failed = `${base}.failed`;
  let mine = false;
  try {
    mkdirSync(`${base}.lock`);
    mine = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (mine) {
    const { code, output } = await runBuild();
    if (code !== 0) {
      writeFileSync(failed, output);
      throw new Error(`npm run build failed (${code}):\n${output}`);
    }
    writeFileSync(done, '');
    return;
  }
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  while (!existsSync(done)) {
    if (existsSync(failed))
      throw new Error(`npm run build failed in another test file:\n${readFileSync(failed, 'utf8')}`);
    if (Date.now() > deadline) throw new Error('timed out waiting for another test file to run npm run build');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
