import type { Problem } from '../../src/gateway/problem';
import {
  INVOICE_WORKFLOW_TYPE,
  invoiceWorkflowId,
  TASK_QUEUES,
  tenantInvoiceKey,
} from '../../src/workflows/definitions';
import { TEST_TENANT } from '../support/access';
import { fakeRegistry } from '../support/fake-provider';
import { uniqueId } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { eventually } from '../support/wait';
import { json, startTestGateway, type TestGateway } from './gateway-env';

describe('reading an invoice whose workflow cannot answer yet', () => {
  const { registry } = fakeRegistry();
  let env: TestEnv;
  let gateway: TestGateway;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry, tenant: TEST_TENANT });
    gateway = await startTestGateway(env, { providers: registry });
  });
  afterAll(async () => {
    await gateway?.close();
    await env?.stop();
  });

  it('answers 503 InvoiceNotReady with Retry-After, never 500, while its workflow task keeps failing', async () => {
    // Input the workflow cannot read fails its task again and again, as a worker killed mid-task or a bad deploy
    // would. From the third attempt on, Temporal refuses every query at once (WorkflowNotReady, FAILED_PRECONDITION);
    // before that a query waits for a task that never completes. Either is "ask again later", not our fault.
    const invoiceId = uniqueId('not_ready');
    await env.temporal.workflow.start(INVOICE_WORKFLOW_TYPE, {
      workflowId: invoiceWorkflowId(tenantInvoiceKey(TEST_TENANT, invoiceId)),
      taskQueue: TASK_QUEUES.invoices,
      args: [{ request: 'unreadable' }],
    });
    const seen = new Set<string>();
    const notReady = await eventually(async () => {
      const read = await gateway.call(`/v1/invoices/${invoiceId}`);
      const body = await json<Problem>(read);
      seen.add(`${read.status} ${body.type} retry-after=${read.headers.get('retry-after') ?? 'none'}`);
      return body.type === 'InvoiceNotReady' ? body : undefined;
    }, 60_000);
    expect(notReady).toMatchObject({ status: 503, type: 'InvoiceNotReady' });
    expect([...seen].filter((answer) => !/^503 \w+ retry-after=\d+$/.test(answer))).toEqual([]);
  });
});
