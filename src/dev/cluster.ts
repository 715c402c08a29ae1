import { createHash } from 'node:crypto';
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config';
import { SEARCH_ATTRIBUTES } from '../domain/constants';
import type { Logger } from '../logger';
import {
  findOrBuildTemporalCli,
  freePort,
  portInUse,
  TemporalUnavailableError,
  waitForTemporal,
  type TemporalServer,
} from '../temporal/dev-server';
import { ClusterStartError, Supervisor, type Supervised } from './supervisor';

export { ClusterStartError } from './supervisor';

/** The server release the cluster runs, its SQL tool and its schema files: one version for all three. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const SERVER_PACKAGES = {
  server: `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`,
  sqlTool: `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`,
};
const SERVER_MODULE = `go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`;

/** Temporal's services in start order; each is its own OS process. */
export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** Small, as a local cluster needs; fixed once the schema exists (Temporal cannot change it later). */
const HISTORY_SHARDS = 4;
/** Two busy cores: Go services and PostgreSQL compete with the workers, so readiness gets minutes, not seconds. */
const READY_TIMEOUT_MS = 180_000;
const DATABASE_USER = 'temporal';

export interface ServerBinaries {
  server: string;
  sqlTool: string;
  /** `schema/postgresql/v12` of the same release: `temporal/` and `visibility/`, each with `versioned/`. */
  schemaDir: string;
}

function goBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).stdout.trim();
  if (!found) {
    throw new TemporalUnavailableError(
      `npm run cluster builds the Temporal server ${TEMPORAL_SERVER_VERSION} once with Go, and no \`go\` is on PATH: ` +
        'install Go 1.23+ and run it again.',
    );
  }
  return found;
}

/**
 * The server and its SQL tool from our cache, built with Go the first time (minutes: the server is a large module).
 * Built into a temporary folder and renamed into place, so a build cut short never leaves a half-written binary.
 */
export function findOrBuildServerBinaries(cacheDir: string, logger: Logger): ServerBinaries {
  const wanted: ServerBinaries = {
    server: path.join(cacheDir, `temporal-server-${TEMPORAL_SERVER_VERSION}`),
    sqlTool: path.join(cacheDir, `temporal-sql-tool-${TEMPORAL_SERVER_VERSION}`),
    schemaDir: path.join(cacheDir, `temporal-schema-${TEMPORAL_SERVER_VERSION}`, 'postgresql', 'v12'),
  };
  if (existsSync(wanted.server) && existsSync(wanted.sqlTool) && existsSync(wanted.schemaDir)) return wanted;

  const go = goBinary();
  mkdirSync(cacheDir, { recursive: true });
  const staging = mkdtempSync(path.join(cacheDir, '.build-'));
  try {
    const started = Date.now();
    const building = !existsSync(wanted.server) || !existsSync(wanted.sqlTool);
    if (building)
      logger.warn(
        { cacheDir },
        `Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool with Go, once (4-14 minutes on 2 ` +
          'cores); later runs reuse them.',
      );
    const env = { ...process.env, GOBIN: staging };
    for (const [name, target] of [
      ['server', wanted.server],
      ['sql', wanted.sqlTool],
    ] as const) {
      if (existsSync(target)) continue;
      const pkg = name === 'server' ? SERVER_PACKAGES.server : SERVER_PACKAGES.sqlTool;
      const result = spawnSync(go, ['install', pkg], {
        env,
        cwd: os.tmpdir(),
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (result.status !== 0) {
        throw new TemporalUnavailableError(`go install ${pkg} failed (exit ${result.status ?? result.signal}).`);
      }
      renameSync(path.join(staging, name), target);
    }
    if (!existsSync(wanted.schemaDir)) {
      // The schema files come with the module the install just fetched; a copy in our cache outlives `go clean`.
      const download = spawnSync(go, ['mod', 'download', '-json', SERVER_MODULE], {
        env,
        cwd: os.tmpdir(),
        encoding: 'utf8',
      });
      const moduleDir = z.object({ Dir: z.string().min(1) }).safeParse(JSON.parse(download.stdout || '{}'));
      if (!moduleDir.success) throw new TemporalUnavailableError(`go mod download ${SERVER_MODULE} failed.`);
      const copy = path.join(staging, 'schema');
      cpSync(path.join(moduleDir.data.Dir, 'schema', 'postgresql', 'v12'), copy, { recursive: true });
      mkdirSync(path.dirname(wanted.schemaDir), { recursive: true });
      renameSync(copy, wanted.schemaDir);
    }
    if (building) logger.warn({ seconds: Math.round((Date.now() - started) / 1000) }, 'Temporal server built');
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return wanted;
}

export interface Database {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Temporal's two databases: its own state, and visibility (what the UI and list queries read). */
  names: { default: string; visibility: string };
  /** Set when we run PostgreSQL ourselves. */
  local: boolean;
}

export function databaseFromUrl(databaseUrl: string): Database {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'temporal';
  return {
    host: url.hostname,
    port: Number(url.port || '5432'),
    user: decodeURIComponent(url.username) || DATABASE_USER,
    password: decodeURIComponent(url.password),
    names: { default: name, visibility: `${name}_visibility` },
    local: false,
  };
}

/** PostgreSQL will not run as root: when we are root, its processes run as this unprivileged account. */
function postgresAccount(): { user?: string; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  for (const user of ['postgres', 'nobody']) {
    const id = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (id.status === 0 && gid.status === 0) return { user, uid: Number(id.stdout), gid: Number(gid.stdout) };
  }
  throw new ClusterStartError('Running as root and no unprivileged account (postgres, nobody) to run PostgreSQL as.');
}

function run(command: string, args: readonly string[], options: { env?: Record<string, string> } = {}) {
  return new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      command,
      [...args],
      { env: { ...process.env, ...options.env }, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}`.trim() });
      },
    );
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, failed: () => string | undefined) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const failure = failed();
    if (failure) throw new ClusterStartError(`${what}: ${failure}`);
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new ClusterStartError(`${what}: not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

export interface ClusterOptions {
  /** Every port picked free and the frontend's too: for tests, beside other servers on this machine. */
  ephemeral?: boolean;
}

export interface Cluster extends TemporalServer {
  database: Database;
  /** The orchestrator's own store: a database of its own on the same server (STORE_DATABASE_URL of its processes). */
  storeUrl: string;
  supervisor: Supervisor;
  /** The Temporal service processes by name (the same handle survives a restart). */
  services: Record<TemporalService, Supervised>;
  dataDir: string;
  logDir: string;
  cliPath: string;
}

/** What fails a start: the first process that exits before the cluster is up, named with its log file. */
class StartWatch {
  failure: string | undefined;
  constructor(supervisor: Supervisor, logDir: string) {
    supervisor.onUnexpectedExit = (name, code, signal) => {
      this.failure ??= `${name} exited (${signal ?? `code ${code}`}) while starting; see ${path.join(logDir, `${name}.log`)}`;
    };
  }
}

async function startLocalPostgres(
  config: Config,
  supervisor: Supervisor,
  dataDir: string,
  logDir: string,
  logger: Logger,
  watch: StartWatch,
): Promise<Database> {
  const bin = config.cluster.postgresBinDir;
  for (const tool of ['initdb', 'postgres', 'pg_isready']) {
    if (!existsSync(path.join(bin, tool))) {
      throw new ClusterStartError(
        `No PostgreSQL server binaries in ${bin} (${tool} is missing): install PostgreSQL 15 (apt-get install ` +
          'postgresql-15), point POSTGRES_BIN_DIR at its bin folder, or set DATABASE_URL to an existing server.',
      );
    }
  }
  const account = postgresAccount();
  const identity = account.user ? ['--reuid', account.user, '--regid', account.user, '--init-groups', '--'] : ['--'];
  const prepare = (base: string) => {
    const dirs = { pgData: path.join(base, 'postgres'), socketDir: path.join(base, 'postgres-run') };
    for (const dir of Object.values(dirs)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (account.uid !== undefined && account.gid !== undefined) chownSync(dir, account.uid, account.gid);
    }
    const reachable = !account.user || spawnSync('setpriv', [...identity, 'test', '-w', dirs.pgData]).status === 0;
    return { ...dirs, reachable };
  };
  let { pgData, socketDir, reachable } = prepare(dataDir);
  // A checkout under a folder only root may enter (/root, a CI workspace of mode 700) is out of the unprivileged
  // account's reach, whatever we chown inside it: the database then lives in /var/tmp, one folder per checkout.
  if (!reachable) {
    const elsewhere = path.join(
      '/var/tmp/payment-orchestrator',
      createHash('sha256').update(dataDir).digest('hex').slice(0, 12),
    );
    mkdirSync(elsewhere, { recursive: true, mode: 0o755 });
    ({ pgData, socketDir, reachable } = prepare(elsewhere));
    if (reachable)
      logger.warn({ pgData }, `${account.user ?? 'postgres'} cannot reach ${dataDir}: the database lives elsewhere`);
  }
  if (!reachable) {
    throw new ClusterStartError(
      `PostgreSQL runs as ${account.user} (it refuses root), and ${account.user} cannot reach ${pgData}: set ` +
        `CLUSTER_DATA_DIR to a folder it can reach (e.g. /var/tmp/payment-orchestrator), or DATABASE_URL.`,
    );
  }
  if (!existsSync(path.join(pgData, 'PG_VERSION'))) {
    logger.info({ pgData }, 'initdb');
    // Trust on loopback and our own socket only: a local development database with no password to leak.
    const init = spawnSync(
      'setpriv',
      [...identity, path.join(bin, 'initdb'), '-D', pgData, '-U', DATABASE_USER, '--auth=trust', '-E', 'UTF8'],
      { encoding: 'utf8', cwd: os.tmpdir() },
    );
    if (init.status !== 0) throw new ClusterStartError(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  supervisor.start({
    name: 'postgres',
    command: path.join(bin, 'postgres'),
    args: [
      '-D',
      pgData,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${socketDir}`,
      // Four services with a pool each, the SQL tool and the CLI's checks.
      '-c',
      'max_connections=200',
    ],
    user: account.user,
    cwd: os.tmpdir(),
    logFile: path.join(logDir, 'postgres.log'),
    // A fast shutdown: open sessions are ended, the data is consistent on disk.
    stopSignal: 'SIGINT',
  });
  await waitUntil(
    'PostgreSQL',
    async () =>
      (await run(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', DATABASE_USER])).code ===
      0,
    () => watch.failure,
  );
  return {
    host: '127.0.0.1',
    port,
    user: DATABASE_USER,
    password: '',
    names: { default: 'temporal', visibility: 'temporal_visibility' },
    local: true,
  };
}

/** Temporal's own tool creates each database and brings its schema to this release (a no-op when it is current). */
async function setUpSchemas(sqlTool: string, schemaDir: string, database: Database, logger: Logger): Promise<void> {
  for (const [kind, name] of [
    ['temporal', database.names.default],
    ['visibility', database.names.visibility],
  ] as const) {
    const common = ['--plugin', 'postgres12', '--ep', database.host, '-p', String(database.port)];
    common.push('-u', database.user, '--db', name);
    // The password goes by environment, never on a command line other users can read.
    const env = { SQL_PASSWORD: database.password };
    // Answers an error when the database exists already: that is the case of every start after the first.
    const created = await run(sqlTool, [...common, 'create-database'], { env });
    logger.debug({ database: name, output: created.output }, 'create-database');
    for (const step of [
      ['setup-schema', '-v', '0.0'],
      ['update-schema', '-d', path.join(schemaDir, kind, 'versioned')],
    ]) {
      const result = await run(sqlTool, [...common, ...step], { env });
      if (result.code !== 0) {
        throw new ClusterStartError(`temporal-sql-tool ${step[0]} on ${name} failed: ${result.output}`);
      }
    }
  }
}

/** The orchestrator's database beside Temporal's two; each process that opens it brings its schema up to date. */
async function createStoreDatabase(sqlTool: string, database: Database, logger: Logger): Promise<string> {
  const args = ['--plugin', 'postgres12', '--ep', database.host, '-p', String(database.port), '-u', database.user];
  const created = await run(sqlTool, [...args, '--db', STORE_DATABASE, 'create-database'], {
    env: { SQL_PASSWORD: database.password },
  });
  // Answers an error when the database exists already: every start after the first.
  logger.debug({ database: STORE_DATABASE, output: created.output }, 'create-database');
  const auth = database.password
    ? `${encodeURIComponent(database.user)}:${encodeURIComponent(database.password)}`
    : encodeURIComponent(database.user);
  return `postgres://${auth}@${database.host}:${database.port}/${STORE_DATABASE}`;
}

const STORE_DATABASE = 'payment_orchestrator';

/**
 * A free port below 32768: Temporal stores membership ports in a PostgreSQL smallint, and the kernel's ephemeral
 * range (what port 0 gives) starts above it.
 */
async function freeMembershipPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new ClusterStartError('no free port below 32768 for Temporal membership');
}

type Ports = Record<TemporalService, { grpc: number; membership: number }> & { frontendHttp: number };

function datastore(database: Database, name: string, maxConns: number) {
  return {
    sql: {
      pluginName: 'postgres12',
      databaseName: name,
      connectAddr: `${database.host}:${database.port}`,
      connectProtocol: 'tcp',
      user: database.user,
      password: database.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

/**
 * One server configuration for the four processes: each reads its own `services.<name>` ports from it. JSON is
 * valid YAML, so no YAML writer is needed. No metrics section: four processes would all bind its one address.
 */
export function serverConfig(database: Database, ports: Ports, dynamicConfigFile: string): Record<string, unknown> {
  const rpc = (service: TemporalService) => ({
    rpc: {
      grpcPort: ports[service].grpc,
      membershipPort: ports[service].membership,
      bindOnLocalHost: true,
      ...(service === 'frontend' ? { httpPort: ports.frontendHttp } : {}),
    },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: HISTORY_SHARDS,
      datastores: {
        default: datastore(database, database.names.default, 20),
        visibility: datastore(database, database.names.visibility, 10),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: Object.fromEntries(TEMPORAL_SERVICES.map((service) => [service, rpc(service)])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend.grpc}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

/**
 * Dynamic configuration for a cluster that registers its search attributes a moment before the first invoice: the
 * frontend reads them fresh instead of from a cache that would not know them yet.
 */
const DYNAMIC_CONFIG = {
  'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true }],
};

const SearchAttributeList = z.array(z.object({ name: z.string() }).passthrough());

/** Our namespace and its search attributes (one list: src/domain/constants.ts), created when missing. */
async function registerNamespace(cli: string, address: string, namespace: string, logger: Logger): Promise<void> {
  const base = ['--address', address, '--namespace', namespace];
  // The CLI reads TEMPORAL_* variables too (our TEMPORAL_ADDRESS among them): only our flags may count.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
  const cliRun = (args: string[]) =>
    new Promise<{ code: number; output: string }>((resolve) => {
      execFile(cli, [...args, ...base], { env, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, output: `${stdout}${stderr}`.trim() }),
      );
    });
  if ((await cliRun(['operator', 'namespace', 'describe'])).code !== 0) {
    const created = await cliRun(['operator', 'namespace', 'create', '--retention', '72h']);
    if (created.code !== 0 && !/already/i.test(created.output))
      throw new ClusterStartError(`creating namespace ${namespace} failed: ${created.output}`);
    logger.info({ namespace }, 'namespace created');
  }
  // The services learn of a new namespace when their registry refreshes (every few seconds): until then the frontend
  // answers "not found" for it.
  let listed = { code: 1, output: '' };
  await waitUntil(
    `namespace ${namespace} known to the frontend`,
    async () => {
      listed = await cliRun(['operator', 'search-attribute', 'list', '--output', 'json']);
      return listed.code === 0;
    },
    () => undefined,
  );
  const parsed = SearchAttributeList.safeParse(JSON.parse(listed.output || '[]'));
  const present = new Set(parsed.success ? parsed.data.map((attribute) => attribute.name) : []);
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !present.has(name));
  if (missing.length === 0) return;
  const args = ['operator', 'search-attribute', 'create'];
  for (const [name, type] of missing) args.push('--name', name, '--type', type);
  const created = await cliRun(args);
  if (created.code !== 0) throw new ClusterStartError(`creating search attributes failed: ${created.output}`);
  logger.info({ namespace, created: missing.map(([name]) => name) }, 'search attributes created');
}

/**
 * PostgreSQL (ours, or DATABASE_URL's), the schemas, then Temporal's history, matching, frontend and internal worker
 * as four processes of one build, and our namespace. On any failure everything started so far is stopped.
 */
export async function startCluster(config: Config, logger: Logger, options: ClusterOptions = {}): Promise<Cluster> {
  const dataDir = config.cluster.dataDir;
  const logDir = path.join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const supervisor = new Supervisor(logger);
  const watch = new StartWatch(supervisor, logDir);
  try {
    const cliPath = findOrBuildTemporalCli(config, logger);
    const binaries = findOrBuildServerBinaries(config.devServer.cacheDir, logger);
    const database = config.cluster.databaseUrl
      ? databaseFromUrl(config.cluster.databaseUrl)
      : await startLocalPostgres(config, supervisor, dataDir, logDir, logger, watch);
    await setUpSchemas(binaries.sqlTool, binaries.schemaDir, database, logger);
    const storeUrl = await createStoreDatabase(binaries.sqlTool, database, logger);

    const frontendPort = options.ephemeral ? await freePort() : config.devServer.port;
    const taken = new Set<number>();
    const ports: Ports = {
      frontend: { grpc: frontendPort, membership: await freeMembershipPort(taken) },
      history: { grpc: await freePort(), membership: await freeMembershipPort(taken) },
      matching: { grpc: await freePort(), membership: await freeMembershipPort(taken) },
      worker: { grpc: await freePort(), membership: await freeMembershipPort(taken) },
      frontendHttp: await freePort(),
    };
    const configDir = path.join(dataDir, 'config');
    mkdirSync(configDir, { recursive: true });
    const dynamicConfigFile = path.join(configDir, 'dynamic-config.yaml');
    writeFileSync(dynamicConfigFile, `${JSON.stringify(DYNAMIC_CONFIG, null, 2)}\n`);
    // The server reads <root>/<config dir>/<env>.yaml; the password of DATABASE_URL is in it, so only we may read it.
    writeFileSync(
      path.join(configDir, 'cluster.yaml'),
      `${JSON.stringify(serverConfig(database, ports, dynamicConfigFile), null, 2)}\n`,
      { mode: 0o600 },
    );

    const services = {} as Record<TemporalService, Supervised>;
    for (const service of TEMPORAL_SERVICES) {
      services[service] = supervisor.start({
        name: `temporal-${service}`,
        command: binaries.server,
        args: [
          '--root',
          dataDir,
          '--config',
          'config',
          '--env',
          'cluster',
          '--allow-no-auth',
          'start',
          '--service',
          service,
        ],
        cwd: dataDir,
        logFile: path.join(logDir, `temporal-${service}.log`),
        restart: true,
      });
      // The first process to start writes the cluster's metadata record; two at once on a new database race for it
      // and one dies. History goes alone until it serves, which it does only after that record exists.
      if (service === 'history') {
        await waitUntil(
          'Temporal history',
          () => portInUse(ports.history.grpc),
          () => watch.failure,
        );
      }
    }
    const address = `127.0.0.1:${frontendPort}`;
    await waitUntil(
      'Temporal frontend',
      async () =>
        (await run(cliPath, ['operator', 'cluster', 'health', '--address', address])).output.includes('SERVING'),
      () => watch.failure,
    );
    const namespace = config.temporal.namespace;
    await registerNamespace(cliPath, address, namespace, logger);
    await waitForTemporal(address, namespace, READY_TIMEOUT_MS, () => watch.failure !== undefined);
    if (watch.failure) throw new ClusterStartError(watch.failure);
    supervisor.markUp();
    return {
      address,
      namespace,
      cliPath,
      database,
      storeUrl,
      supervisor,
      services,
      dataDir,
      logDir,
      stop: () => supervisor.stopAll(),
    };
  } catch (error) {
    await supervisor.stopAll();
    throw error;
  }
}
