import { gatewayClient, sampleRequest, waitUntil } from '../../src/dev/samples';
import type { BitfinexSandbox } from '../../src/providers/bitfinex/sandbox';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * Bitfinex allows 90 requests a minute. The test keeps that ratio on a tenth of the clock (90 requests per 6 s) so it
 * runs in seconds, and sets our task-queue rate to match (12 activities a second against the sandbox's 15 requests).
 */
const WINDOW_MS = 6_000;
const ACTIVITIES_PER_SECOND = 12;

describe('Bitfinex rate limit', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { BITFINEX_MAX_ACTIVITIES_PER_SECOND: String(ACTIVITIES_PER_SECOND) } });
    stack.sandboxes.get<BitfinexSandbox>('bitfinex').sandbox.setRateLimit(90, WINDOW_MS);
  });
  afterAll(async () => stack?.stop());

  it('creates 200 invoices started at once without one ERR_RATE_LIMIT from the sandbox', async () => {
    const gateway = gatewayClient(stack.api);
    const ids = Array.from({ length: 200 }, () => uniqueId('bfx'));
    const started = Date.now();
    await Promise.all(
      ids.map((invoiceId) => gateway.create(sampleRequest({ invoiceId, provider: 'bitfinex', direction: 'pay_in' }))),
    );
    await Promise.all(
      ids.map((invoiceId) =>
        waitUntil(stack.api, invoiceId, (s) => Boolean(s.providerRefs.bitfinexInvoiceId), 120_000),
      ),
    );
    const elapsed = Date.now() - started;
    const { sandbox, counter } = stack.sandboxes.get<BitfinexSandbox>('bitfinex');
    expect(sandbox.rateLimitRefusals).toBe(0);
    expect(counter.total('invoice')).toBe(200);
    expect(counter.duplicates('invoice')).toEqual([]);
    // The server held the activities back: 200 creations at 12 a second cannot take less than about 16 s.
    expect(elapsed).toBeGreaterThan(((200 - ACTIVITIES_PER_SECOND) / ACTIVITIES_PER_SECOND) * 1000);
    process.stdout.write(`200 Bitfinex invoices created in ${elapsed} ms, ${sandbox.rateLimitRefusals} refusals\n`);
  }, 180_000);
});
