import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { alfred } from '../../src/providers/alfred';
import {
  customerMemo,
  SessionTokens,
  type AlfredAuthStrategy,
  type AlfredSession,
  type IssuedToken,
} from '../../src/providers/alfred/auth';
import type { HttpResponse } from '../../src/providers/http';
import { failureOf } from '../support/failures';
import { configProblems, PRODUCTION_ENV } from '../support/production-env';

const logger = createLogger({ level: 'silent' });
const STELLAR_SECRET = 'SB6JL72OWJPG6YCYNDQLLGMUSUEHBWLPBGUTDXNEIRT35XST2LRT3I2K';

/** A strategy whose sign-ins the test releases by hand, numbering the tokens it hands out. */
function manualStrategy(lifeMs = 60_000) {
  const pending: ((issued: IssuedToken) => void)[] = [];
  let issued = 0;
  const strategy: AlfredAuthStrategy = {
    kind: 'apikey',
    signIn: () => new Promise<IssuedToken>((resolve) => pending.push(resolve)),
  };
  return {
    strategy,
    pending,
    releaseAll() {
      for (const resolve of pending.splice(0)) resolve({ token: `t${++issued}`, expiresAt: Date.now() + lifeMs });
    },
  };
}

const session: AlfredSession = { key: 'cus_1', login: () => Promise.reject(new Error('not used')) };
const answer = (status: number): HttpResponse => ({ status, headers: new Headers(), text: '{}' });

describe('SessionTokens', () => {
  it('gives every concurrent caller of one session the same renewal', async () => {
    const manual = manualStrategy();
    const tokens = new SessionTokens(manual.strategy);
    const callers = Promise.all(Array.from({ length: 20 }, () => tokens.current(session)));
    await Promise.resolve();
    expect(manual.pending).toHaveLength(1);
    manual.releaseAll();
    expect(new Set(await callers)).toEqual(new Set(['t1']));
    expect(tokens.signIns).toBe(1);
    // Another session has a sign-in of its own.
    const other = tokens.current({ ...session, key: 'cus_2' });
    await Promise.resolve();
    manual.releaseAll();
    await expect(other).resolves.toBe('t2');
    expect(tokens.signIns).toBe(2);
  });

  it('renews once when many calls meet 401 with the same dead token, and keeps a token a renewal already replaced', async () => {
    const manual = manualStrategy();
    const tokens = new SessionTokens(manual.strategy);
    tokens.store(session.key, 'dead', Date.now() + 60_000);
    const seen: string[] = [];
    const calls = Array.from({ length: 10 }, () =>
      tokens.withToken(session, (token) => {
        seen.push(token);
        return Promise.resolve(answer(token === 'dead' ? 401 : 202));
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(manual.pending).toHaveLength(1);
    manual.releaseAll();
    const statuses = (await Promise.all(calls)).map((response) => response.status);
    expect(statuses).toEqual(Array.from({ length: 10 }, () => 202));
    expect(tokens.signIns).toBe(1);
    expect(seen.filter((token) => token === 't1')).toHaveLength(10);
    // A late 401 for the dead token does not throw away the renewed one.
    tokens.invalidate(session.key, 'dead');
    await expect(tokens.current(session)).resolves.toBe('t1');
  });

  it('a second 401 after renewal is a transient fault (retried), never ProviderAuthFailed', async () => {
    const manual = manualStrategy();
    const tokens = new SessionTokens(manual.strategy);
    const call = tokens.withToken(session, () => Promise.resolve(answer(401)));
    const release = setInterval(() => manual.releaseAll(), 5);
    try {
      const error = await failureOf(call);
      expect(error.type).toBe('ProviderUnavailable');
      expect(error.nonRetryable).toBe(false);
      expect(tokens.signIns).toBe(2);
    } finally {
      clearInterval(release);
    }
  });

  it('renews before the token runs out, not after', async () => {
    let now = 1_000_000;
    const manual = manualStrategy();
    const tokens = new SessionTokens(manual.strategy, () => now);
    tokens.store(session.key, 'short', now + 10_000);
    await expect(tokens.current(session)).resolves.toBe('short');
    now += 9_500; // inside the last tenth of its life
    const renewed = tokens.current(session);
    await Promise.resolve();
    manual.releaseAll();
    await expect(renewed).resolves.toBe('t1');
  });

  it('a failed sign-in is not cached: the next caller tries again', async () => {
    let attempts = 0;
    const tokens = new SessionTokens({
      kind: 'stellar',
      signIn: () => {
        attempts++;
        return attempts === 1
          ? Promise.reject(new Error('alfred down'))
          : Promise.resolve({ token: 'ok', expiresAt: Date.now() + 60_000 });
      },
    });
    await expect(tokens.current(session)).rejects.toThrow('alfred down');
    await expect(tokens.current(session)).resolves.toBe('ok');
  });
});

describe('customerMemo', () => {
  it('is a SEP-10 id memo, the same for one customer everywhere, different between customers', () => {
    const memo = customerMemo('cus_42');
    expect(memo).toMatch(/^\d{1,20}$/);
    expect(BigInt(memo) < 2n ** 64n).toBe(true);
    expect(customerMemo('cus_42')).toBe(memo);
    expect(customerMemo('cus_43')).not.toBe(memo);
  });
});

describe('alfred auth configuration', () => {
  it('defaults to the API-key variant', () => {
    expect(loadConfig({}).providers.alfred.auth).toEqual({ kind: 'apikey' });
  });

  it('production with ALFRED_AUTH=stellar refuses a missing secret, server key and network', () => {
    expect(configProblems({ ...PRODUCTION_ENV, ALFRED_AUTH: 'stellar' })).toEqual([
      expect.stringMatching(/^ALFRED_STELLAR_SECRET: required when NODE_ENV=production/),
      expect.stringMatching(/^ALFRED_STELLAR_SERVER_KEY: required/),
      expect.stringMatching(/^ALFRED_STELLAR_NETWORK: required/),
    ]);
    const complete = {
      ...PRODUCTION_ENV,
      ALFRED_AUTH: 'stellar',
      ALFRED_STELLAR_SECRET: STELLAR_SECRET,
      ALFRED_STELLAR_SERVER_KEY: 'GAOKPGXAHQ5G4OLC6ZAVY6EAQSGX5VPFJ2UIISO6FL75SS4CACHZKYDV',
      ALFRED_STELLAR_NETWORK: 'public',
    };
    expect(configProblems(complete)).toEqual([]);
    expect(loadConfig(complete).providers.alfred.auth).toMatchObject({ kind: 'stellar', network: 'public' });
    // A deployment that does not serve alfred needs none of it.
    expect(configProblems({ ...PRODUCTION_ENV, PROVIDERS: 'payone', ALFRED_AUTH: 'stellar' })).toEqual([]);
  });

  it('never repeats the Stellar secret in a message', () => {
    const problems = configProblems({ ALFRED_STELLAR_SECRET: 'SNOT-A-VALID-SEED-do-not-echo' });
    expect(problems).toEqual([expect.stringMatching(/^ALFRED_STELLAR_SECRET: a Stellar secret seed/)]);
    expect(problems.join('\n')).not.toContain('do-not-echo');
  });

  it('a hand-built production config without the Stellar keys is refused when the client is made', () => {
    const config = loadConfig({ ...PRODUCTION_ENV, PROVIDERS: 'payone', ALFRED_AUTH: 'stellar' });
    expect(() => alfred.create({ config, logger })).toThrow(/stellar auth/);
  });
});
