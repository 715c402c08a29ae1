import { WorkflowNotFoundError } from '@temporalio/client';
import { driveSample, sampleRequest } from '../../src/dev/samples';
import type { Problem } from '../../src/gateway/problem';
import { invoiceWorkflowId, type InvoiceState } from '../../src/workflows/definitions';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';

/**
 * Temporal refuses a second workflow under an invoice's id only while it holds the first: the namespace's retention
 * deletes a closed workflow, and from then on the id would start a second invoice. The store remembers every id.
 */
describe('a create naming an id Temporal no longer holds', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.stop());

  const create = (body: unknown) =>
    fetch(`${stack.api.gatewayUrl}/v1/invoices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.api.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  const runsOf = async (workflowId: string) => {
    const runs: string[] = [];
    for await (const execution of stack.env.temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      runs.push(execution.runId);
    }
    return runs;
  };

  it('starts nothing and answers from the store; another body is a conflict', async () => {
    // Up to a minute for the invoice, three for the server to delete it.
    const invoiceId = uniqueId('retained');
    const sample = { provider: 'alfred', direction: 'pay_in', invoiceId } as const;
    const finished = await driveSample(stack.api, sample);
    expect(finished.status).toBe('COMPLETED');
    const request = sampleRequest(sample);
    const workflowId = invoiceWorkflowId(finished.reference ?? '');
    const created = stack.sandboxes.get('alfred').counter.total('transaction');

    // What retention does to a closed workflow, done at once.
    await stack.env.temporal.workflowService.deleteWorkflowExecution({
      namespace: stack.env.namespace,
      workflowExecution: { workflowId },
    });
    const gone = () =>
      stack.env.temporal.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          () => false,
          (error: unknown) => error instanceof WorkflowNotFoundError,
        );
    // Deletion runs as a task of the server's own, later under load: retention's pace, not the request's.
    await eventually(gone, 180_000);

    const again = await create(request);
    expect(again.status).toBe(200);
    const answer = (await again.json()) as InvoiceState;
    // The store's last record of it: its final event, as the invoice stood when it ended.
    expect(answer).toMatchObject({
      invoiceId,
      status: 'COMPLETED',
      provider: 'alfred',
      amount: request.amount,
      currency: request.currency,
    });
    // Nothing started: no workflow under the id, and alfred was asked to create nothing more.
    expect(await gone()).toBe(true);
    expect(await runsOf(workflowId)).toEqual([]);
    expect(stack.sandboxes.get('alfred').counter.total('transaction')).toBe(created);

    const other = await create({ ...request, amount: request.amount + 1 });
    expect(other.status).toBe(409);
    expect((await other.json()) as Problem).toMatchObject({ type: 'InvoiceConflict', status: 409 });
    expect(await runsOf(workflowId)).toEqual([]);
  }, 300_000);

  it('answers a repeat while Temporal still holds the invoice from the workflow, as before', async () => {
    const invoiceId = uniqueId('held');
    const request = sampleRequest({ provider: 'payone', direction: 'pay_in', invoiceId });
    expect((await create(request)).status).toBe(201);
    const again = await create(request);
    expect(again.status).toBe(200);
    expect(((await again.json()) as InvoiceState).invoiceId).toBe(invoiceId);
    expect((await create({ ...request, amount: request.amount + 1 })).status).toBe(409);
  });
});
