import { Keypair, TransactionBuilder, WebAuth, type Transaction } from '@stellar/stellar-sdk';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createAlfredAdapter } from '../../src/providers/alfred/adapter';
import {
  customerMemo,
  SANDBOX_STELLAR,
  StellarWebAuth,
  tokenExpiry,
  type AlfredSession,
} from '../../src/providers/alfred/auth';
import {
  AlfredClient,
  alfredClientOptions,
  SANDBOX_CREDENTIALS,
  type AlfredClientOptions,
} from '../../src/providers/alfred/client';
import type { AlfredSandbox } from '../../src/providers/alfred/sandbox';
import { SANDBOX_STELLAR_NETWORK, SANDBOX_STELLAR_SERVER_SECRET } from '../../src/providers/alfred/sandbox-stellar';
import { startSandboxes, type SandboxHandle, type SandboxServer } from '../../src/providers/sandbox/server';
import { failureOf } from '../support/failures';
import { WebhookReceiver } from '../support/webhook-receiver';
import { alfredStepInput, runStep } from '../support/alfred';

const logger = createLogger({ level: 'silent' });
// Tokens live 3.6 s: long enough that a loaded machine never sees one lapse between two steps by accident.
const TIME_SCALE = 0.03;
let server: SandboxServer;
let handle: SandboxHandle<AlfredSandbox>;
const receiver = new WebhookReceiver();

beforeAll(async () => {
  receiver.successBody = '{"message":"success"}';
  await receiver.start();
  server = await startSandboxes({ port: 0, logger, webhookBaseUrl: `${receiver.url}/webhooks`, timeScale: TIME_SCALE });
  handle = server.get<AlfredSandbox>('alfred');
});

afterAll(async () => {
  await server.close();
  await receiver.stop();
});

afterEach(() => {
  handle.sandbox.setRevokeOnSignIn(false);
  handle.faults.set({ errorRate: 0 });
});

const stellarBase = () => `${server.url}/alfred${SANDBOX_STELLAR.basePath}`;
const host = () => new URL(server.url).host;

function stellarAuth(overrides: Partial<ConstructorParameters<typeof StellarWebAuth>[0]> = {}): StellarWebAuth {
  return new StellarWebAuth({
    baseUrl: stellarBase(),
    secret: SANDBOX_STELLAR.clientSecret,
    serverPublicKey: SANDBOX_STELLAR.serverPublicKey,
    networkPassphrase: SANDBOX_STELLAR_NETWORK,
    headers: { 'API-Key': SANDBOX_CREDENTIALS.apiKey, 'API-Secret': SANDBOX_CREDENTIALS.apiSecret },
    timeoutMs: 2_000,
    ...overrides,
  });
}

function client(variant: 'apikey' | 'stellar', overrides: Partial<AlfredClientOptions> = {}): AlfredClient {
  return new AlfredClient({
    baseUrl: variant === 'stellar' ? stellarBase() : `${server.url}/alfred`,
    apiKey: SANDBOX_CREDENTIALS.apiKey,
    apiSecret: SANDBOX_CREDENTIALS.apiSecret,
    timeoutMs: 2_000,
    ...(variant === 'stellar'
      ? {
          auth: {
            kind: 'stellar',
            secret: SANDBOX_STELLAR.clientSecret,
            serverPublicKey: SANDBOX_STELLAR.serverPublicKey,
            networkPassphrase: SANDBOX_STELLAR_NETWORK,
          },
        }
      : {}),
    ...overrides,
  });
}

function session(key: string): AlfredSession {
  return { key, login: () => Promise.reject(new Error('the Stellar variant never signs in with KYC lite')) };
}

describe('alfred Stellar SEP-10 against the sandbox', () => {
  it('Auth (Get): GET /auth with account, memo and home domain, and the key headers; a challenge for our account', async () => {
    const auth = stellarAuth();
    const seen = handle.sandbox.stellar.requests.length;
    const challenge = await auth.challenge('customer-get');

    const received = handle.sandbox.stellar.requests.slice(seen);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      method: 'GET',
      path: `/alfred${SANDBOX_STELLAR.basePath}/auth`,
      query: { account: auth.account, memo: customerMemo('customer-get'), home_domain: host() },
      headers: expect.objectContaining({
        accept: 'application/json',
        'api-key': SANDBOX_CREDENTIALS.apiKey,
        'api-secret': SANDBOX_CREDENTIALS.apiSecret,
      }) as unknown,
      bodyFields: [],
    });
    expect(received[0]?.headers.authorization).toBeUndefined();
    expect(received[0]?.headers['content-type']).toBeUndefined();

    // The parsed answer: a real SEP-10 challenge, signed by alfred's (the sandbox's) key, for our account and memo.
    expect(challenge).toEqual({
      transaction: expect.any(String) as unknown,
      networkPassphrase: SANDBOX_STELLAR_NETWORK,
      memo: customerMemo('customer-get'),
    });
    const read = WebAuth.readChallengeTx(
      challenge.transaction,
      SANDBOX_STELLAR.serverPublicKey,
      SANDBOX_STELLAR_NETWORK,
      host(),
      host(),
    );
    expect(read.clientAccountID).toBe(auth.account);
    expect(read.memo).toBe(customerMemo('customer-get'));
    expect(read.tx.sequence).toBe('0');
  });

  it('Auth (Post): POST /auth with the signed transaction as JSON; the sandbox verified it and answered a token', async () => {
    const auth = stellarAuth();
    const challenge = await auth.challenge('customer-post');
    const signed = auth.sign(challenge);
    const stats = { ...handle.sandbox.stellar.stats };
    const seen = handle.sandbox.stellar.requests.length;
    const token = await auth.exchange(signed);

    const received = handle.sandbox.stellar.requests.slice(seen);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      method: 'POST',
      path: `/alfred${SANDBOX_STELLAR.basePath}/auth`,
      query: {},
      headers: expect.objectContaining({
        'content-type': 'application/json',
        'api-key': SANDBOX_CREDENTIALS.apiKey,
        'api-secret': SANDBOX_CREDENTIALS.apiSecret,
      }) as unknown,
      bodyFields: ['transaction'],
    });
    // Signed by our account on top of alfred's signature: the SDK finds our key among the signers.
    expect(
      WebAuth.verifyChallengeTxSigners(
        signed,
        SANDBOX_STELLAR.serverPublicKey,
        SANDBOX_STELLAR_NETWORK,
        [auth.account],
        host(),
        host(),
      ),
    ).toEqual([auth.account]);

    // The parsed answer: a JWT for account:memo, short-lived at this time scale.
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub: string;
    };
    expect(claims.sub).toBe(`${auth.account}:${customerMemo('customer-post')}`);
    const expiresAt = tokenExpiry(token) ?? 0;
    expect(expiresAt - Date.now()).toBeGreaterThan(0);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(120_000 * TIME_SCALE);
    expect(handle.sandbox.stellar.stats).toEqual({
      ...stats,
      challengesVerified: stats.challengesVerified + 1,
      tokensIssued: stats.tokensIssued + 1,
    });

    // A challenge is good once: the same signed transaction again is refused, and that is our credentials refused.
    const replay = await failureOf(auth.exchange(signed));
    expect(replay.type).toBe('ProviderAuthFailed');
    expect(replay.nonRetryable).toBe(true);
    expect(replay.message).toMatch(/challenge unknown, used or expired/);
  });

  it('the sandbox refuses an unsigned challenge and one signed by another key', async () => {
    const auth = stellarAuth();
    const unsigned = await auth.challenge('customer-unsigned');
    const refusedBefore = handle.sandbox.stellar.stats.challengesRefused;
    const error = await failureOf(auth.exchange(unsigned.transaction));
    expect(error.type).toBe('ProviderAuthFailed');
    expect(error.message).not.toContain(SANDBOX_STELLAR.clientSecret);

    const other = await auth.challenge('customer-other-key');
    const tx = TransactionBuilder.fromXDR(other.transaction, SANDBOX_STELLAR_NETWORK) as Transaction;
    tx.sign(Keypair.random());
    await expect(failureOf(auth.exchange(tx.toEnvelope().toXDR('base64')))).resolves.toMatchObject({
      type: 'ProviderAuthFailed',
    });
    expect(handle.sandbox.stellar.stats.challengesRefused).toBe(refusedBefore + 2);
  });

  it('never signs a challenge that is not from alfred: a wrong server key or network is refused before any POST', async () => {
    const impostor = stellarAuth({ serverPublicKey: Keypair.random().publicKey() });
    const seen = handle.sandbox.stellar.requests.length;
    const error = await failureOf(impostor.signIn(session('customer-impostor')));
    expect(error.type).toBe('ProviderAuthFailed');
    expect(error.nonRetryable).toBe(true);
    expect(error.message).toMatch(/challenge did not verify/);
    expect(handle.sandbox.stellar.requests.slice(seen).map((r) => r.method)).toEqual(['GET']);

    const wrongNetwork = stellarAuth({ networkPassphrase: 'Public Global Stellar Network ; September 2015' });
    await expect(failureOf(wrongNetwork.signIn(session('customer-network')))).resolves.toMatchObject({
      type: 'ProviderAuthFailed',
      message: expect.stringMatching(/another network/) as unknown,
    });
  });

  it('refused API keys at sign-in are final; a 503 at sign-in is retried', async () => {
    const refused = await failureOf(
      stellarAuth({ headers: { 'API-Key': 'wrong', 'API-Secret': 'wrong' } }).signIn(session('k')),
    );
    expect(refused.type).toBe('ProviderAuthFailed');
    expect(refused.nonRetryable).toBe(true);
    handle.faults.set({ errorRate: 1 });
    const down = await failureOf(stellarAuth().signIn(session('k')));
    expect(down.type).toBe('ProviderUnavailable');
    expect(down.nonRetryable).toBe(false);
  });

  it('a secret seed with a bad checksum is a configuration error that never repeats the seed', () => {
    const bad = `${SANDBOX_STELLAR.clientSecret.slice(0, -1)}A`;
    expect(() => stellarAuth({ secret: bad })).toThrow(/ALFRED_STELLAR_SECRET: not a valid Stellar secret seed/);
    expect(() => stellarAuth({ secret: bad })).not.toThrow(bad);
  });

  it('the sandbox signs with the published server key the client trusts by default', () => {
    expect(Keypair.fromSecret(SANDBOX_STELLAR_SERVER_SECRET).publicKey()).toBe(SANDBOX_STELLAR.serverPublicKey);
    const options = alfredClientOptions(loadConfig({ NODE_ENV: 'test', SANDBOX_PORT: '4999', ALFRED_AUTH: 'stellar' }));
    expect(options.baseUrl).toBe(`http://127.0.0.1:4999/alfred${SANDBOX_STELLAR.basePath}`);
    expect(options.auth).toEqual({
      kind: 'stellar',
      secret: SANDBOX_STELLAR.clientSecret,
      serverPublicKey: SANDBOX_STELLAR.serverPublicKey,
      networkPassphrase: SANDBOX_STELLAR_NETWORK,
    });
    expect(alfredClientOptions(loadConfig({ NODE_ENV: 'test', SANDBOX_PORT: '4999' })).auth).toBeUndefined();
  });
});

describe('one adapter, either variant: renewal is single-flight and an expired token never fails the invoice', () => {
  it.each(['apikey', 'stellar'] as const)(
    '%s: KYC, payment method, bank and submit, with tokens expiring on the way',
    async (variant) => {
      const alfredClient = client(variant);
      const adapter = createAlfredAdapter(alfredClient);
      const input = alfredStepInput('alauth');
      const tokensBefore = handle.sandbox.stellar.stats.tokensIssued;
      await runStep(input, 'kyc', (i) => adapter.kyc?.(i));
      await runStep(input, 'paymentMethod', (i) => adapter.paymentMethod?.(i));
      expect(alfredClient.logins).toBe(1);
      // alfred forgets every token: the next user call answers 401, one renewal, and the call is repeated.
      const refused = handle.counter.get('token_refused', variant === 'stellar' ? 'stellar' : 'penny');
      handle.sandbox.expireTokens();
      await runStep(input, 'bank', (i) => adapter.bank?.(i));
      expect(alfredClient.logins).toBe(2);
      expect(handle.counter.get('token_refused', variant === 'stellar' ? 'stellar' : 'penny')).toBe(refused + 1);
      // The token's own life runs out: renewed before the call, without a 401.
      await new Promise((resolve) => setTimeout(resolve, 120_000 * TIME_SCALE + 100));
      const submitted = await runStep(input, 'submit', (i) => adapter.submit(i));
      expect(submitted?.providerStatus).toBe('pending');
      expect(alfredClient.logins).toBe(3);
      expect(handle.counter.get('transaction', input.invoice.invoiceId)).toBe(1);
      // The Stellar sign-ins are SEP-10 exchanges; the Penny API's are KYC-lite calls.
      expect(handle.sandbox.stellar.stats.tokensIssued - tokensBefore).toBe(variant === 'stellar' ? 3 : 0);
      expect(handle.counter.get('login', input.invoice.customer.email)).toBe(variant === 'stellar' ? 1 : 3);
    },
  );

  it.each(['apikey', 'stellar'] as const)(
    '%s: fifty concurrent calls of one session after its token died share one sign-in, and all succeed',
    async (variant) => {
      const alfredClient = client(variant);
      const adapter = createAlfredAdapter(alfredClient);
      const input = alfredStepInput('alauth');
      await runStep(input, 'kyc', (i) => adapter.kyc?.(i));
      expect(alfredClient.logins).toBe(1);
      // A sign-in ends the user's previous token, as the benchmark saw: concurrent sign-ins of one session
      // would end each other's tokens and some call would meet a 401 after its renewal.
      handle.sandbox.setRevokeOnSignIn(true);
      handle.sandbox.expireTokens();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          runStep({ ...input, refs: { ...input.refs } }, `bank-${i}`, (each) => adapter.paymentMethod?.(each)),
        ),
      );
      expect(results).toHaveLength(50);
      expect(alfredClient.logins).toBe(2);
    },
  );
});
