import { z } from 'zod';
import { readClusterState, type ClusterState } from '../../src/dev/cluster-state';
import type { PublicApi } from '../../src/dev/samples';
import type { ProviderName } from '../../src/domain/constants';
import { DEV_TENANT } from '../../src/gateway/auth';

/** What each sandbox counts per created object: the proof that nothing was created twice. */
export const CREATIONS: Record<ProviderName, string> = {
  alfred: 'transaction',
  payone: 'invoice',
  xprizo: 'transaction',
  bitfinex: 'invoice',
};

export function clusterState(): ClusterState {
  const dataDir = process.env.TEST_CLUSTER_DATA_DIR;
  if (!dataDir) throw new Error('TEST_CLUSTER_DATA_DIR is unset: run through `npm run test:cluster`.');
  return readClusterState(dataDir);
}

/** The gateway as a service sees it, with the cluster's development keys. */
export function clusterApi(state = clusterState()): PublicApi {
  if (!state.devKeys || !state.sandboxUrl) throw new Error('the cluster runs without dev keys or sandboxes');
  return {
    gatewayUrl: state.gatewayUrl,
    apiKey: state.devKeys.service,
    approverKey: state.devKeys.approver,
    tenant: DEV_TENANT,
    sandboxUrl: state.sandboxUrl,
  };
}

const Counts = z.record(z.string(), z.number().int());

/** How many times the provider's sandbox created the object of this reference (its own record, read over HTTP). */
export async function createdAtProvider(provider: ProviderName, reference: string): Promise<number> {
  const state = clusterState();
  const response = await fetch(`${state.sandboxUrl}/${provider}/_sandbox/counts`);
  const counts = Counts.parse(await response.json());
  return counts[`${CREATIONS[provider]}:${reference}`] ?? 0;
}

/** Every object the provider's sandbox created, by reference. */
export async function creationsAtProvider(provider: ProviderName): Promise<Map<string, number>> {
  const state = clusterState();
  const response = await fetch(`${state.sandboxUrl}/${provider}/_sandbox/counts`);
  const prefix = `${CREATIONS[provider]}:`;
  return new Map(
    Object.entries(Counts.parse(await response.json()))
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, count]) => [key.slice(prefix.length), count]),
  );
}

export function processNamed(name: string): ClusterState['processes'][number] {
  const entry = clusterState().processes.find((candidate) => candidate.name === name);
  if (!entry) throw new Error(`no process ${name} in the cluster`);
  return entry;
}
