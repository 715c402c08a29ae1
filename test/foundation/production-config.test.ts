import { spawn } from 'node:child_process';
import { PRODUCTION_ENV } from '../support/production-env';
import { ROOT } from '../support/processes';

interface Finished {
  code: number | null;
  stderr: string;
}

/** Runs an entry point as the image would (tsx instead of the build), with only the environment given. */
function run(entry: string, env: Record<string, string>): Promise<Finished> {
  // PATH and HOME only: whatever this shell exports (a GATEWAY_API_KEYS, a TEMPORAL_ADDRESS) must not leak in.
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const child = spawn('npx', ['tsx', entry], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('a production process', () => {
  it('refuses to start without a required variable, naming it on stderr without echoing any secret', async () => {
    const env = Object.fromEntries(Object.entries(PRODUCTION_ENV).filter(([name]) => name !== 'ALFRED_WEBHOOK_SECRET'));
    // A Temporal address nothing listens on: were the config accepted, the worker would fail later and differently.
    const result = await run('src/worker.ts', { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^ {2}- ALFRED_WEBHOOK_SECRET: required when NODE_ENV=production/m);
    expect(result.stderr.match(/^ {2}- /gm)).toHaveLength(1);
    for (const secret of [PRODUCTION_ENV.ALFRED_API_SECRET, PRODUCTION_ENV.BITFINEX_API_SECRET]) {
      expect(result.stderr).not.toContain(secret);
    }
  });

  it('refuses to run the provider sandboxes, even with a complete configuration', async () => {
    const result = await run('src/providers/sandbox/main.ts', { ...PRODUCTION_ENV, SANDBOX_PORT: '1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/provider sandboxes: refused when NODE_ENV=production/);
  });
});
