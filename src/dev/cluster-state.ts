import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * What a running `npm run cluster` tells other processes (its tests, a developer's scripts): where everything
 * listens and which process is which. Holds the development API keys, so it is written for the owner only.
 */
export const ClusterStateSchema = z.object({
  address: z.string(),
  namespace: z.string(),
  cliPath: z.string(),
  gatewayUrl: z.string(),
  sandboxUrl: z.string().optional(),
  devKeys: z.object({ service: z.string(), approver: z.string(), operator: z.string() }).optional(),
  logDir: z.string(),
  /** Current pids by process name; a restarted process appears with its new pid and restart count. */
  processes: z.array(z.object({ name: z.string(), pid: z.number().int(), restarts: z.number().int() })),
});
export type ClusterState = z.infer<typeof ClusterStateSchema>;

export function clusterStateFile(dataDir: string): string {
  return path.join(dataDir, 'state.json');
}

/** Replaced in one rename, so a reader never sees half a file. */
export function writeClusterState(dataDir: string, state: ClusterState): void {
  const file = clusterStateFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function readClusterState(dataDir: string): ClusterState {
  return ClusterStateSchema.parse(JSON.parse(readFileSync(clusterStateFile(dataDir), 'utf8')));
}
