import path from 'node:path';
import { freePort } from '../../src/temporal/dev-server';

export interface NpmStartPorts {
  grpc: number;
  ui: number;
  sandbox: number;
  gateway: number;
  store: number;
}

/**
 * What `npm start` needs to run beside the test run's own server and beside other tests: free ports, its Temporal
 * database and its store in `dir`, the CLI the global setup found, no samples (unless `overrides` asks).
 */
export async function npmStartEnv(
  dir: string,
  overrides: Record<string, string> = {},
): Promise<{ env: Record<string, string>; ports: NpmStartPorts }> {
  const [grpc, ui, sandbox, gateway, store] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  return {
    ports: { grpc, ui, sandbox, gateway, store },
    env: {
      TEMPORAL_CLI: process.env.TEST_TEMPORAL_CLI ?? '',
      TEMPORAL_ADDRESS: '',
      TEMPORAL_PORT: String(grpc),
      TEMPORAL_UI_PORT: String(ui),
      TEMPORAL_DB_FILE: path.join(dir, 'temporal.db'),
      STORE_DATA_DIR: path.join(dir, 'store'),
      STORE_PORT: String(store),
      STORE_DATABASE_URL: '',
      SANDBOX_PORT: String(sandbox),
      GATEWAY_PORT: String(gateway),
      START_SAMPLES: 'false',
      LOG_LEVEL: 'warn',
      ...overrides,
    },
  };
}
