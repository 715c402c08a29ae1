import { invoiceWorkflowId, providerEventSignal, searchAttributes } from '../../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { leakedFields, personalRequest, readableTexts } from '../support/personal';
import { temporalCli } from '../support/temporal-cli';
import { startTestEnv, type TestEnv } from '../support/temporal-env';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The value at a path of plain JSON objects, or undefined. */
function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

/**
 * Search attributes are stored and indexed in plain text (visibility queries read them), and the static summary and
 * details are what the UI's workflow list shows: all three must be free of personal data.
 */
describe('search attributes and static summary of an invoice', () => {
  const { registry } = fakeRegistry();
  const { request, personal } = personalRequest({ description: 'monthly top-up' });
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
    await env.invoices.startInvoice(request);
    await env.invoices
      .handle(request.invoiceId)
      .signal(providerEventSignal, fakeEvent(request, `settle-${request.invoiceId}`, 'settled'));
    // Completed: every attribute the workflow upserts on the way (status, provider references) is set.
    expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');
  });
  afterAll(async () => env?.stop());

  it('carry no personal value, decoded through our data converter', async () => {
    const description = await env.temporal.workflow.getHandle(invoiceWorkflowId(request.invoiceId)).describe();
    const attributes = description.typedSearchAttributes;
    // The opaque customer id is there (that is how a service lists a customer's invoices), and the references too.
    expect(attributes.get(searchAttributes.customerId)).toBe(request.customer.id);
    expect(attributes.get(searchAttributes.status)).toBe('COMPLETED');
    expect(attributes.get(searchAttributes.providerReferences)?.length).toBeGreaterThan(0);
    const summary = await description.staticSummary();
    const details = await description.staticDetails();
    expect(summary).toContain(request.customer.id);
    expect(details).toBe('monthly top-up');

    const attributeTexts = attributes.getAll().map(({ key, value }) => `${key.name}=${JSON.stringify(value)}`);
    expect(leakedFields(personal, [...attributeTexts, summary ?? '', details ?? ''])).toEqual([]);
  });

  it('carry no personal value as the server stores them, and the summary and details are sealed', async () => {
    const described = await temporalCli(
      ['workflow', 'describe', '--workflow-id', invoiceWorkflowId(request.invoiceId), '--output', 'json', '--raw'],
      env.namespace,
    );
    const parsed: unknown = JSON.parse(described);
    const indexed = at(parsed, 'workflowExecutionInfo', 'searchAttributes', 'indexedFields');
    expect(isRecord(indexed) && Object.keys(indexed)).toEqual(expect.arrayContaining(['CustomerId', 'InvoiceStatus']));
    expect(leakedFields(personal, [described, ...readableTexts(parsed)])).toEqual([]);
    // User metadata goes through the payload codec: at rest it is ciphertext, readable only through the codec server.
    for (const field of ['summary', 'details']) {
      const encoding = at(parsed, 'executionConfig', 'userMetadata', field, 'metadata', 'encoding');
      expect({ field, encoding: Buffer.from(String(encoding), 'base64').toString() }).toEqual({
        field,
        encoding: 'binary/encrypted',
      });
    }
  });
});
