import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/temporal/dev-server';

const ROOT = path.resolve(__dirname, '..', '..');

describe('npm run cluster when a process dies while it starts', () => {
  it('stops everything it started (PostgreSQL and the other services), names the log to read and fails', async () => {
    const dataDir = path.join(ROOT, '.data', 'cluster-start-failure');
    rmSync(dataDir, { recursive: true, force: true });
    // The frontend's port is taken: PostgreSQL, history and matching come up, then the frontend cannot listen.
    // It accepts and holds connections (the CLI's health checks among them); closing it ends them.
    const held = new Set<net.Socket>();
    const squatter = net.createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as net.AddressInfo).port;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/dev/cluster-main.ts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          CLUSTER_DATA_DIR: dataDir,
          TEMPORAL_PORT: String(taken),
          GATEWAY_PORT: String(await freePort()),
          SANDBOX_PORT: String(await freePort()),
          LOG_LEVEL: 'error',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(output).toMatch(/temporal-frontend exited .* while starting; see .*temporal-frontend\.log/);
      const left = spawnSync('pgrep', ['-af', dataDir], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((line) => line && !line.includes('pgrep'));
      expect(left).toEqual([]);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => squatter.close(resolve));
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
