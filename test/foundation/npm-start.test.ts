import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { npmStartEnv } from '../support/npm-start';
import { processesMatching, spawnGroup } from '../support/processes';

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('npm start', () => {
  it('exits non-zero with a short message naming a bad variable', async () => {
    const run = spawnGroup('npm', ['start', '--silent'], { TEMPORAL_ADDRESS: 'nonsense', TEMPORAL_PORT: '99999' });
    expect(await run.exited).not.toBe(0);
    expect(run.output()).toContain('TEMPORAL_ADDRESS: expected host:port');
    expect(run.output()).toContain('TEMPORAL_PORT:');
    expect(run.output().split('\n').length).toBeLessThan(8);
  });

  it('brings up the UI and the frontend, and leaves nothing running after Ctrl-C', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'payorch-start-'));
    const { env, ports } = await npmStartEnv(dir);
    const { grpc, ui } = ports;
    const run = spawnGroup('npm', ['start', '--silent'], env);
    await run.waitFor(/Press Ctrl-C to stop/, 90_000);
    expect(run.output()).toContain(`Temporal UI        http://localhost:${ui}`);
    expect((await fetch(`http://127.0.0.1:${ui}/`)).status).toBe(200);
    expect(await canConnect(grpc)).toBe(true);
    expect(processesMatching(dir).length).toBeGreaterThan(0);

    process.kill(-(run.child.pid ?? 0), 'SIGINT');
    await run.exited;
    // npm re-raises the SIGINT it was sent once its script has stopped; our process itself exits 0.
    expect([run.child.exitCode === 0, run.child.signalCode === 'SIGINT']).toContain(true);
    expect(run.output()).not.toMatch(/stop failed|npm start failed/);
    // The server's guard shell notices the closed pipe within moments.
    const deadline = Date.now() + 10_000;
    while (processesMatching(dir).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(processesMatching(dir)).toEqual([]);
    expect(await canConnect(grpc)).toBe(false);
    expect(await canConnect(ui)).toBe(false);
  });

  it('demonstrates issue 13: signed deliveries to an endpoint of its own, and a report with the drifted record', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'payorch-demo-'));
    const { env } = await npmStartEnv(dir, { START_SAMPLES: 'true' });
    const run = spawnGroup('npm', ['start', '--silent'], env);
    try {
      await run.waitFor(/Press Ctrl-C to stop/, 240_000);
      const output = run.output();
      // Eight samples, each several events, every one verified with the endpoint's secret and none refused.
      const delivered = /(\d+) events received and verified, (\d+) refused/.exec(output);
      expect(Number(delivered?.[1])).toBeGreaterThanOrEqual(8 * 3);
      expect(Number(delivered?.[2])).toBe(0);
      expect(output).toMatch(
        /Attempts +curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/webhook-endpoints\/we_[0-9a-f]+\/attempts/,
      );
      // The orphan the sandbox was told to leave is in the first report, and nothing else is.
      expect(output).toMatch(/\d+ alfred records, \d+ invoices, 1 differences \(orphan 1\)/);
      expect(output).toMatch(/Report +curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/reconciliations\/reconciliation-/);
    } finally {
      await run.interrupt();
    }
  });
});
