import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import {
  freePort,
  startTemporal,
  TemporalUnavailableError,
  findOrBuildTemporalCli,
} from '../../src/temporal/dev-server';
import { processesMatching } from '../support/processes';

const logger = createLogger({ level: 'warn' });
describe('the Temporal dev server bootstrap', () => {
  it('keeps workflows in its SQLite file across a restart and leaves no process behind', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'payorch-devserver-'));
    const config = loadConfig({
      TEMPORAL_CLI: process.env.TEST_TEMPORAL_CLI ?? '',
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_DB_FILE: path.join(dir, 'temporal.db'),
    });
    const workflowId = `persisted-${Date.now()}`;

    const first = await startTemporal(config, logger);
    expect((await fetch(first.uiUrl ?? '')).status).toBe(200);
    const connection = await Connection.connect({ address: first.address });
    const client = new Client({ connection, namespace: first.namespace });
    await client.workflow.start('nothingRunsThis', { workflowId, taskQueue: 'no-worker-here', args: [] });
    await connection.close();
    await first.stop();
    expect(processesMatching(dir)).toEqual([]);

    const second = await startTemporal(config, logger);
    const again = await Connection.connect({ address: second.address });
    const description = await new Client({ connection: again, namespace: second.namespace }).workflow
      .getHandle(workflowId)
      .describe();
    expect(description.workflowId).toBe(workflowId);
    expect(description.status.name).toBe('RUNNING');
    await again.close();
    await second.stop();
    expect(processesMatching(dir)).toEqual([]);
  });

  it('refuses a TEMPORAL_CLI that is not an executable', () => {
    const config = loadConfig({ TEMPORAL_CLI: '/nonexistent/temporal' });
    expect(() => findOrBuildTemporalCli(config, logger)).toThrow(TemporalUnavailableError);
  });
});
