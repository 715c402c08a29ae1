import { spawnSync } from 'node:child_process';
import { readClusterState } from '../../src/dev/cluster-state';
import { isAlive } from '../support/processes';

/** Ctrl-C, then the proof that nothing is left: no recorded process alive, nothing running from the data folder. */
export default async function globalTeardown(): Promise<void> {
  const cluster = globalThis.__CLUSTER__;
  if (!cluster?.child.pid) return;
  const state = readClusterState(cluster.dataDir);
  process.kill(-cluster.child.pid, 'SIGINT');
  const timer = setTimeout(() => process.kill(-(cluster.child.pid ?? 0), 'SIGKILL'), 90_000);
  await cluster.exited;
  clearTimeout(timer);
  const left = [
    ...state.processes.filter((entry) => isAlive(entry.pid)).map((entry) => `${entry.name} (pid ${entry.pid})`),
    ...spawnSync('pgrep', ['-af', cluster.dataDir], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((line) => line && !line.includes('pgrep')),
  ];
  if (cluster.child.exitCode !== 0 || left.length > 0) {
    throw new Error(
      `npm run cluster did not stop cleanly (exit ${cluster.child.exitCode ?? cluster.child.signalCode}); ` +
        `left running: ${left.join(', ') || 'nothing'}`,
    );
  }
}
