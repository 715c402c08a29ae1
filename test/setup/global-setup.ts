import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { startStoreProcess } from '../../src/dev/store';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startTemporal, type TemporalServer } from '../../src/temporal/dev-server';

/** Namespaces for the jest workers: one each, so parallel test files never poll each other's task queues. */
export const TEST_NAMESPACES = ['test-1', 'test-2', 'test-3', 'test-4'];

declare global {
  var __TEMPORAL_SERVER__: TemporalServer | undefined;
}

export default async function globalSetup(): Promise<void> {
  const config = loadConfig({ ...withoutUnchosenProfile(process.env), NODE_ENV: 'test' });
  // The dev server's own stderr is logged at warn: loud under the load some tests create on purpose.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'error' });
  const server = await startTemporal(config, logger, { ephemeral: true, extraNamespaces: TEST_NAMESPACES });
  globalThis.__TEMPORAL_SERVER__ = server;
  // Jest's workers inherit this process's environment.
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TEST_TEMPORAL_UI_URL = server.uiUrl ?? '';
  process.env.TEST_TEMPORAL_CLI = server.cliPath ?? '';
  process.env.TEST_TEMPORAL_EXTERNAL = config.temporal.address ? '1' : '';
  // Names this run's one `npm run build` (test/support/build.ts).
  process.env.TEST_RUN_ID = randomUUID();
  // One initdb per run; every test store starts from a copy of it (test/support/store.ts).
  const template = path.join(os.tmpdir(), `payorch-store-template-${process.env.TEST_RUN_ID}`);
  await (await startStoreProcess({ dataDir: template })).stop();
  process.env.TEST_STORE_TEMPLATE = template;
}

/**
 * The tests use an existing cluster only when told to (TEMPORAL_ADDRESS, TEMPORAL_CONFIG_FILE or TEMPORAL_PROFILE),
 * never the default profile a developer's Temporal CLI happens to keep in ~/.config/temporalio/temporal.toml: without
 * its config folder, envconfig finds no default file.
 */
function withoutUnchosenProfile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.TEMPORAL_CONFIG_FILE || env.TEMPORAL_PROFILE) return env;
  return Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'HOME' && name !== 'XDG_CONFIG_HOME'));
}
