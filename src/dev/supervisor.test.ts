import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../logger';
import { isAlive } from '../../test/support/processes';
import { eventually } from '../../test/support/wait';
import { Supervisor } from './supervisor';

const logger = createLogger({ level: 'silent' });
const logFile = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'supervisor-')), 'out.log');

/** Until `check` holds, as the shared helper polls for a value. */
const until = (check: () => boolean) => eventually(() => check() || undefined);

describe('Supervisor', () => {
  it('stops each process with its own children (the whole group), newest first', async () => {
    const supervisor = new Supervisor(logger);
    const file = logFile();
    // A shell that starts a child and waits: stopping the shell alone would leave the sleep behind.
    const parent = supervisor.start({
      name: 'parent',
      command: 'sh',
      args: ['-c', 'sleep 300 & echo $!; wait'],
      logFile: file,
    });
    const other = supervisor.start({ name: 'other', command: 'sleep', args: ['300'], logFile: file });
    await until(
      () => parent.running() && other.running() && existsSync(file) && /\d+/.test(readFileSync(file, 'utf8')),
    );
    const grandchild = Number(readFileSync(file, 'utf8').trim());
    await supervisor.stopAll();
    await until(() => !isAlive(grandchild));
    expect([parent.running(), other.running(), isAlive(parent.pid()), isAlive(other.pid())]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it('reports a process that exits while the cluster starts, instead of starting it again', async () => {
    const supervisor = new Supervisor(logger);
    const exits: string[] = [];
    supervisor.onUnexpectedExit = (name, code) => exits.push(`${name}:${code}`);
    const failing = supervisor.start({
      name: 'failing',
      command: 'sh',
      args: ['-c', 'exit 3'],
      logFile: logFile(),
      restart: true,
    });
    await failing.exited();
    await until(() => exits.length > 0);
    expect({ exits, restarts: failing.restarts() }).toEqual({ exits: ['failing:3'], restarts: 0 });
    await supervisor.stopAll();
  });

  it('starts a process marked restart again once the cluster is up, as an orchestrator would', async () => {
    const supervisor = new Supervisor(logger);
    const service = supervisor.start({
      name: 'service',
      command: 'sleep',
      args: ['300'],
      logFile: logFile(),
      restart: true,
    });
    supervisor.markUp();
    const first = service.pid();
    process.kill(-first, 'SIGKILL');
    await until(() => service.restarts() === 1 && service.running());
    expect(service.pid()).not.toBe(first);
    await supervisor.stopAll();
    expect(isAlive(service.pid())).toBe(false);
  });

  it('leaves nothing behind when the supervising process itself is killed with SIGKILL', async () => {
    const script = [
      "const { Supervisor } = require('./src/dev/supervisor');",
      "const { createLogger } = require('./src/logger');",
      "const s = new Supervisor(createLogger({ level: 'silent' }));",
      `const p = s.start({ name: 'orphan?', command: 'sleep', args: ['300'], logFile: ${JSON.stringify(logFile())} });`,
      "setTimeout(() => process.stdout.write(String(p.pid()) + '\\n'), 200);",
      'setInterval(() => undefined, 1000);',
    ].join('\n');
    const parent = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: path.resolve(__dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString()))),
    );
    expect(isAlive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await until(() => !isAlive(pid));
  });
});
