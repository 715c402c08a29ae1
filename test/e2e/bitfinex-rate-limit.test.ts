import { gatewayClient, sampleRequest } from '../../src/dev/samples';
import type { BitfinexSandbox } from '../../src/providers/bitfinex/sandbox';
import { invoiceWorkflowId, tenantInvoiceKey, type InvoiceState } from '../../src/workflows/definitions';
import { TEST_TENANT } from '../support/access';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * Bitfinex allows 90 requests a minute. The test keeps that count on a tenth of the clock (90 requests per 6 s) so it
 * runs in seconds, and tells the stack the same limit, from which the worker derives the task queue's rate. The
 * invoices expire at the sandbox 3 s after they are made (300 s at a time scale of 0.01), while others are still being
 * made: every EXPIRED webhook makes its invoice look at Bitfinex, and those requests must fit under the limit too.
 */
const LIMIT = 90;
const WINDOW_SECONDS = 6;

describe('Bitfinex rate limit', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      env: {
        BITFINEX_RATE_LIMIT_REQUESTS: String(LIMIT),
        BITFINEX_RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
      },
    });
    stack.sandboxes.get<BitfinexSandbox>('bitfinex').sandbox.setRateLimit(LIMIT, WINDOW_SECONDS * 1000);
  });
  afterAll(async () => stack?.stop());

  it('200 invoices started at once, and the looks their expiry webhooks ask for, without one ERR_RATE_LIMIT', async () => {
    const gateway = gatewayClient(stack.api);
    const ids = Array.from({ length: 200 }, () => uniqueId('bfx'));
    const started = Date.now();
    // A create the busy gateway does not answer in time is asked again: the invoice id makes it the same invoice.
    const create = async (invoiceId: string): Promise<unknown> => {
      const request = { ...sampleRequest({ invoiceId, provider: 'bitfinex', direction: 'pay_in' }) };
      for (let attempt = 1; ; attempt++) {
        try {
          return await gateway.create({ ...request, settlementTimeoutSeconds: 300 });
        } catch (error) {
          // fetch's timeout is a DOMException from Node's realm, not the test's: recognised by name.
          const timedOut = (error as { name?: unknown } | undefined)?.name === 'TimeoutError';
          if (attempt >= 5 || !timedOut) throw error;
        }
      }
    };
    await Promise.all(ids.map(create));
    const { sandbox, counter } = stack.sandboxes.get<BitfinexSandbox>('bitfinex');
    // Watched at the sandbox and through Temporal's long polls, not by asking the gateway about 200 invoices over and
    // over: the test's own load stays off the machine it measures.
    for (const deadline = Date.now() + 150_000; counter.total('invoice') < ids.length;) {
      if (Date.now() > deadline) throw new Error(`only ${counter.total('invoice')} invoices made at the sandbox`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const created = Date.now() - started;
    const handles = ids.map((invoiceId) =>
      stack.env.temporal.workflow.getHandle(invoiceWorkflowId(tenantInvoiceKey(TEST_TENANT, invoiceId))),
    );
    // Each ends EXPIRED on the API's word, fetched by a look its webhook asked for or by a poll.
    const results = (await Promise.all(handles.map((handle) => handle.result()))) as InvoiceState[];
    expect(results.filter((state) => state.status !== 'EXPIRED')).toEqual([]);
    const perPath = Object.fromEntries(sandbox.requestsByPath);
    process.stdout.write(
      `200 Bitfinex invoices created in ${created} ms, all expired after ${Date.now() - started} ms; ` +
        `${sandbox.requestCount} requests ${JSON.stringify(perPath)}, ${sandbox.rateLimitRefusals} refusals\n`,
    );
    expect(sandbox.rateLimitRefusals).toBe(0);
    expect(counter.total('invoice')).toBe(200);
    expect(counter.duplicates('invoice')).toEqual([]);
    // The sandbox saw every request: the creations and at least one fetch per invoice (a look or a poll).
    expect(perPath['auth/w/ext/pay/invoice/create']).toBe(200);
    expect(perPath['auth/r/ext/pay/invoices']).toBeGreaterThanOrEqual(200);
    // The server held the activities back: 200 creations at the derived rate cannot take less than this.
    const rate = stack.env.config.worker.bitfinexMaxActivitiesPerSecond;
    expect(rate).toBeLessThan(LIMIT / WINDOW_SECONDS);
    expect(created).toBeGreaterThan(((200 - 2 * rate - 4) / rate) * 1000);
    // The webhooks reached the invoices as looks, not as events the gateway believed.
    let looks = 0;
    for (const handle of handles.slice(0, 20)) {
      const events = (await handle.fetchHistory()).events ?? [];
      looks += events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'providerLook').length;
      expect(events.some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'providerEvent')).toBe(
        false,
      );
    }
    expect(looks).toBeGreaterThan(0);
  }, 300_000);
});
