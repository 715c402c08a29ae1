import { driveSample, SAMPLES } from '../../src/dev/samples';
import { uniqueId } from '../support/requests';
import { clusterApi, createdAtProvider } from './support';

describe('every provider through the cluster: separate Temporal services on PostgreSQL, two worker processes', () => {
  it('drives one invoice per provider and direction to COMPLETED through the gateway, creating each object once', async () => {
    const api = clusterApi();
    const results = await Promise.all(
      SAMPLES.map(async (sample) => {
        const invoiceId = uniqueId(`cluster_${sample.provider}_${sample.direction}`);
        return { sample, state: await driveSample(api, { ...sample, invoiceId }, 180_000) };
      }),
    );
    for (const { sample, state } of results) {
      expect({ ...sample, status: state.status, error: state.lastError }).toEqual({
        ...sample,
        status: 'COMPLETED',
        error: undefined,
      });
      expect({ ...sample, created: await createdAtProvider(sample.provider, state.reference ?? '') }).toEqual({
        ...sample,
        created: 1,
      });
    }
  });
});
