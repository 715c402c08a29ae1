import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { SAMPLE_BANK, SAMPLE_CUSTOMER } from '../../src/dev/samples';
import { providerEventSignal } from '../../src/workflows/definitions';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { readableTexts } from '../support/personal';
import { invoiceRequest } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';

/** Personal data the invoice request carries; none of it may reach the server in a readable form. */
const SECRETS = [
  SAMPLE_CUSTOMER.email,
  SAMPLE_CUSTOMER.phone,
  SAMPLE_CUSTOMER.address?.street,
  SAMPLE_CUSTOMER.birthday,
  SAMPLE_BANK.accountNumber,
  SAMPLE_BANK.nationalId,
].filter((value): value is string => typeof value === 'string');

describe('encrypted payloads in workflow history', () => {
  const { registry } = fakeRegistry();
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
  });
  afterAll(async () => env?.stop());

  it('keeps the customer out of the history while the client still reads them', async () => {
    expect(SECRETS).toHaveLength(6);
    const request = invoiceRequest({ provider: 'alfred', direction: 'pay_in' });
    await env.invoices.startInvoice(request);
    const handle = env.invoices.handle(request.invoiceId);
    await handle.signal(providerEventSignal, fakeEvent(request, `settle-${request.invoiceId}`, 'settled'));
    expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');

    const history = await handle.fetchHistory();
    const raw = historyToJSON(history);
    const texts = [raw, ...readableTexts(JSON.parse(raw))];
    // Activities ran with the customer and their results were recorded: the history is not trivially empty.
    expect(history.events?.some((event) => event.activityTaskCompletedEventAttributes)).toBe(true);
    for (const secret of SECRETS) {
      expect(texts.filter((text) => text.includes(secret))).toEqual([]);
    }
    expect(raw).toContain(Buffer.from('binary/encrypted').toString('base64'));

    // Through the client's data converter the same history reads as what was sent.
    const state = await env.invoices.getInvoice(request.invoiceId);
    expect(state).toMatchObject({ invoiceId: request.invoiceId, customerId: SAMPLE_CUSTOMER.id, status: 'COMPLETED' });
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
    const [input] = await decodeArrayFromPayloads(env.temporal.options.loadedDataConverter, started);
    expect(input).toMatchObject({ request: { customer: SAMPLE_CUSTOMER, bank: SAMPLE_BANK } });
  });
});
