import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Config } from '../config';
import { SEARCH_ATTRIBUTES } from '../domain/constants';
import type { Logger } from '../logger';

/** The only CLI tag that `go install` accepts: later tags carry a `replace` directive in their go.mod. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export class TemporalUnavailableError extends Error {
  readonly type = 'TemporalUnavailable';
}

export interface TemporalServer {
  address: string;
  namespace: string;
  /** Set when we started the dev server. */
  uiUrl?: string;
  /** The CLI we used, so tests can drive the same binary. */
  cliPath?: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Free ports and an in-memory database: for tests and benchmarks, never touching the user's data. */
  ephemeral?: boolean;
  /** More namespaces to create at launch (tests give each jest worker its own). */
  extraNamespaces?: readonly string[];
  /** The codec server the UI asks to decrypt payloads (`<gateway>/codec`); without it the UI shows ciphertext. */
  uiCodecEndpoint?: string;
  /** Extra `--dynamic-config-value` pairs. */
  dynamicConfig?: Record<string, unknown>;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** TEMPORAL_CLI, then PATH, then our cache; builds it into the cache with Go when none is found. */
export function findOrBuildTemporalCli(config: Config, logger: Logger): string {
  const explicit = config.devServer.cliPath;
  if (explicit) {
    if (!isExecutable(explicit))
      throw new TemporalUnavailableError(`TEMPORAL_CLI=${explicit} is not an executable file.`);
    return explicit;
  }
  const found = onPath('temporal');
  if (found) return found;
  const cached = path.join(config.devServer.cacheDir, 'temporal');
  if (isExecutable(cached)) return cached;

  const go = onPath('go');
  if (!go) {
    throw new TemporalUnavailableError(
      'No Temporal server to run: there is no `temporal` CLI on PATH, none in ' +
        `${config.devServer.cacheDir}, and no Go toolchain to build one. Install the Temporal CLI ` +
        '(https://docs.temporal.io/cli, e.g. `brew install temporal`), or install Go 1.22+ and run this again so the ' +
        'project builds the CLI once into its cache, or set TEMPORAL_ADDRESS to an existing Temporal cluster.',
    );
  }
  mkdirSync(config.devServer.cacheDir, { recursive: true });
  logger.warn(
    { cacheDir: config.devServer.cacheDir },
    `No Temporal CLI found: building ${TEMPORAL_CLI_MODULE} with Go, once (about 2-3 minutes on 2 cores); later runs reuse it.`,
  );
  const started = Date.now();
  const result = spawnSync(go, ['install', TEMPORAL_CLI_MODULE], {
    env: { ...process.env, GOBIN: config.devServer.cacheDir },
    cwd: os.tmpdir(),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0 || !isExecutable(cached)) {
    throw new TemporalUnavailableError(
      `Building the Temporal CLI failed (go install ${TEMPORAL_CLI_MODULE} exited ${result.status ?? result.signal}).`,
    );
  }
  logger.info({ seconds: Math.round((Date.now() - started) / 1000), path: cached }, 'Temporal CLI built');
  return cached;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Something accepts connections on this local port. */
export async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * How long a dev server we started may take to answer. It is usually up in seconds, but on two cores busy with other
 * work (a test suite's heavy files beside `npm start`) a minute is not always enough, and a slow start is not a failed
 * one. A server that exits is reported at once, whatever this says.
 */
const READY_TIMEOUT_MS = 180_000;

/** Ready means the frontend answers for our namespace, not merely that the port is open. */
export async function waitForTemporal(address: string, namespace: string, timeoutMs: number, exited?: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited?.())
      throw new TemporalUnavailableError('The Temporal dev server exited while starting (see its output above).');
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  throw new TemporalUnavailableError(
    `Temporal at ${address} was not ready within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

// The server runs under a tiny shell that holds our stdin pipe: when this process ends in any way, even SIGKILL, the
// pipe closes, `cat` returns and the shell stops the server, so no orphan is ever left behind.
const GUARD = 'set -u; "$@" </dev/null & child=$!; cat >/dev/null; kill -TERM "$child" 2>/dev/null; wait "$child"';

/** Uses TEMPORAL_ADDRESS when set; otherwise starts the CLI's dev server and stops it on `stop()`. */
export async function startTemporal(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<TemporalServer> {
  const namespace = config.temporal.namespace;
  if (config.temporal.address) {
    logger.info(
      { address: config.temporal.address, namespace },
      'Using the Temporal cluster named by TEMPORAL_ADDRESS',
    );
    return { address: config.temporal.address, namespace, stop: () => Promise.resolve() };
  }

  const cliPath = findOrBuildTemporalCli(config, logger);
  const port = options.ephemeral ? await freePort() : config.devServer.port;
  const uiPort = options.ephemeral ? await freePort() : config.devServer.uiPort;
  if (!options.ephemeral) {
    for (const [name, value] of [
      ['TEMPORAL_PORT', port],
      ['TEMPORAL_UI_PORT', uiPort],
    ] as const) {
      if (await portInUse(value)) {
        throw new TemporalUnavailableError(
          `${name}: port ${value} is already in use (another Temporal server?). Stop it, choose another port with ` +
            `${name}, or set TEMPORAL_ADDRESS to use that server.`,
        );
      }
    }
  }

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)];
  for (const name of [namespace, ...(options.extraNamespaces ?? [])]) args.push('--namespace', name);
  args.push('--log-level', 'error');
  if (options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  if (!options.ephemeral) {
    mkdirSync(path.dirname(config.devServer.dbFile), { recursive: true });
    args.push('--db-filename', config.devServer.dbFile);
    for (const pragma of config.devServer.sqlitePragmas) args.push('--sqlite-pragma', pragma);
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }

  const child: ChildProcess = spawn('sh', ['-c', GUARD, 'temporal-guard', cliPath, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const serverLog = logger.child({ component: 'temporal-server' });
  child.stdout?.on('data', (chunk: Buffer) => serverLog.debug(chunk.toString().trim()));
  child.stderr?.on('data', (chunk: Buffer) => serverLog.warn(chunk.toString().trim()));

  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    child.stdin?.end();
    const timer = setTimeout(() => {
      if (!exited && child.pid) process.kill(-child.pid, 'SIGKILL');
    }, 10_000);
    await exit;
    clearTimeout(timer);
  };
  try {
    await waitForTemporal(address, namespace, READY_TIMEOUT_MS, () => exited);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address, namespace, uiUrl: `http://localhost:${uiPort}`, cliPath, stop };
}
