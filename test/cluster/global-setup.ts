import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/temporal/dev-server';

declare global {
  var __CLUSTER__: { child: ChildProcess; exited: Promise<void>; dataDir: string } | undefined;
}

const ROOT = path.resolve(__dirname, '..', '..');
/** The first run on a machine builds the Temporal server with Go: up to 14 minutes on two busy cores. */
const START_TIMEOUT_MS = 25 * 60_000;

/** `npm run cluster` itself, on free ports and a data folder of its own, for the whole run. */
export default async function globalSetup(): Promise<void> {
  const dataDir = path.join(ROOT, '.data', 'cluster-test');
  // Every run starts from an empty database: invoices of an earlier run must not count here.
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const env: Record<string, string> = {
    CLUSTER_DATA_DIR: dataDir,
    TEMPORAL_PORT: String(await freePort()),
    GATEWAY_PORT: String(await freePort()),
    SANDBOX_PORT: String(await freePort()),
    // Twenty invoices polled at once from one address and key: the rate limits have tests of their own.
    GATEWAY_RATE_LIMIT_PER_KEY: '1000000',
    GATEWAY_RATE_LIMIT_PER_ADDRESS: '1000000',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
  };
  for (const name of ['TEMPORAL_ADDRESS', 'START_SAMPLES']) delete process.env[name];
  // A parent-death signal: if jest is killed before its teardown, the cluster still gets its Ctrl-C (SIGTERM).
  const command = [process.execPath, '--import', 'tsx', 'src/dev/cluster-main.ts'];
  const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', ...command], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    // Its own process group, as in a terminal: the teardown's SIGINT is Ctrl-C.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(path.join(dataDir, 'cluster-main.log'));
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  globalThis.__CLUSTER__ = { child, exited, dataDir };
  process.env.TEST_CLUSTER_DATA_DIR = dataDir;

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!output.includes('Press Ctrl-C')) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`npm run cluster exited while starting:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm run cluster did not start in time:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  process.stdout.write(`\n${output}`);
}
