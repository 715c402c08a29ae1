import { driveSample } from '../../src/dev/samples';
import { SANDBOX_STELLAR } from '../../src/providers/alfred/auth';
import type { AlfredSandbox } from '../../src/providers/alfred/sandbox';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';

describe("alfred's Stellar variant, through the real worker, gateway and sandbox", () => {
  let stack: TestStack;
  beforeAll(async () => {
    // The deployment chooses the variant; the client then talks to the sandbox's Stellar base path.
    stack = await startTestStack({ env: { ALFRED_AUTH: 'stellar' } });
  });
  afterAll(async () => stack?.stop());

  it('completes a pay-in and a pay-out signed in with SEP-10, renewing the token mid-invoice', async () => {
    const alfred = stack.sandboxes.get<AlfredSandbox>('alfred');
    const stellar = alfred.sandbox.stellar;
    // The first bank registration is held at the sandbox: while it waits, every token dies, as a short-lived token
    // would in the middle of an invoice. The held call then meets a dead token.
    const bank = alfred.faults.hold('POST', /\/stellar\/third-party-service\/update-bank$/);
    const running = Promise.all(
      (['pay_in', 'pay_out'] as const).map((direction) =>
        driveSample(stack.api, {
          provider: 'alfred',
          direction,
          invoiceId: uniqueId(`alfred_stellar_${direction}`),
        }),
      ),
    );
    await bank.reached;
    const before = { ...stellar.stats };
    expect(before.challengesVerified).toBeGreaterThan(0);
    alfred.sandbox.expireTokens();
    bank.release();
    const states = await running;
    // The held call was refused for its dead token, and the invoice went on under a renewed one.
    expect(alfred.counter.get('token_refused', 'stellar')).toBeGreaterThan(0);

    for (const state of states) {
      expect({ status: state.status, error: state.lastError }).toEqual({ status: 'COMPLETED', error: undefined });
      expect(alfred.counter.get('transaction', state.reference ?? '')).toBe(1);
    }
    expect(states[1]?.transitions.map((t) => t.status)).toContain('AWAITING_APPROVAL');
    // Real challenges, signed by the worker with the account's key and verified by the sandbox with the Stellar SDK;
    // after the expiry at least one more exchange issued a new token, and no signed challenge was ever refused.
    expect(stellar.stats.challengesVerified).toBeGreaterThan(before.challengesVerified);
    expect(stellar.stats.tokensIssued).toBeGreaterThan(before.tokensIssued);
    expect(stellar.stats.challengesRefused).toBe(0);
    // Every sign-in went to the Stellar variant's base path.
    const authPaths = new Set(stellar.requests.map((request) => `${request.method} ${request.path}`));
    expect(authPaths).toEqual(
      new Set([`GET /alfred${SANDBOX_STELLAR.basePath}/auth`, `POST /alfred${SANDBOX_STELLAR.basePath}/auth`]),
    );
  });
});
