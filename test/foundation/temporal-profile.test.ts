import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { connectClient, connectWorker } from '../../src/temporal/connection';
import { freePort } from '../../src/temporal/dev-server';
import { testNamespace } from '../support/temporal-env';

/**
 * The connection settings the CLI and Temporal Cloud use: a TOML profile file chosen by TEMPORAL_CONFIG_FILE and
 * TEMPORAL_PROFILE, and Temporal's standard variables over it, reach the run's dev server through both the client's
 * and the worker's connection.
 */
describe("Temporal's standard connection settings", () => {
  const address = process.env.TEST_TEMPORAL_ADDRESS ?? '';
  const namespace = testNamespace();

  async function namespaceSeenBy(config: Config): Promise<{ client: string; worker: string }> {
    const target = { address: config.temporal.address ?? '', namespace: config.temporal.namespace };
    const client = await connectClient(config, target);
    const worker = await connectWorker(config, target);
    try {
      const [seenByClient, seenByWorker] = await Promise.all([
        client.workflowService.describeNamespace({ namespace: target.namespace }),
        worker.workflowService.describeNamespace({ namespace: target.namespace }),
      ]);
      return {
        client: seenByClient.namespaceInfo?.name ?? '',
        worker: seenByWorker.namespaceInfo?.name ?? '',
      };
    } finally {
      await worker.close();
      await client.connection.close();
    }
  }

  it('connects with the profile that TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE select', async () => {
    // The default profile points nowhere: only the selected one can reach the server.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const file = profileFile(
      [
        '[profile.default]',
        `address = "${nowhere}"`,
        'namespace = "no-such-namespace"',
        '[profile.ci]',
        `address = "${address}"`,
        `namespace = "${namespace}"`,
        '[profile.ci.tls]',
        'disabled = true',
      ].join('\n'),
    );
    const config = loadConfig({ NODE_ENV: 'test', TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'ci' });
    expect(config.temporal.address).toBe(address);
    expect(await namespaceSeenBy(config)).toEqual({ client: namespace, worker: namespace });
  });

  it('lets the standard variables override the profile', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const file = profileFile(
      ['[profile.stale]', `address = "${nowhere}"`, 'namespace = "no-such-namespace"'].join('\n'),
    );
    const config = loadConfig({
      NODE_ENV: 'test',
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'stale',
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
    });
    expect(config.temporal).toMatchObject({ address, namespace });
    expect(await namespaceSeenBy(config)).toEqual({ client: namespace, worker: namespace });
  });
});

function profileFile(toml: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'payorch-profile-')), 'temporal.toml');
  writeFileSync(file, `${toml}\n`);
  return file;
}
