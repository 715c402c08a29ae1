import { createHmac, randomUUID } from 'node:crypto';
import { Keypair, Networks, StrKey, WebAuth } from '@stellar/stellar-sdk';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Counter } from '../sandbox/kit';

/** The sandbox's published signing secret; its public half is SANDBOX_STELLAR.serverPublicKey. */
export const SANDBOX_STELLAR_SERVER_SECRET = 'SCFTIPPUF3IJD3WM6SOFNAE7HQEBLGJNS4W4ZDUVN56OHRJFON6LUMVB';

/** The sandbox's challenges are for the test network; the client defaults to it outside production. */
export const SANDBOX_STELLAR_NETWORK = Networks.TESTNET;

/** How long a challenge may take to come back signed (SEP-10 suggests minutes); not scaled, it is no business delay. */
const CHALLENGE_TIMEOUT_SECONDS = 300;

/** What a test asserts the exchange did; counts only, never a token or a signature. */
export interface StellarAuthStats {
  challengesIssued: number;
  challengesVerified: number;
  challengesRefused: number;
  tokensIssued: number;
}

/** One request to `/auth` as the sandbox received it: what a contract test checks the client sent. */
export interface StellarAuthRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  bodyFields: string[];
}

export interface StellarAuthSettings {
  /** Life of an issued token before the time scale. */
  tokenTtlMs: number;
  /** A new sign-in ends the subject's previous token, as a server holding one session per user would. */
  revokeOnSignIn: boolean;
}

/** Answers the request itself (a fault, refused API keys) and returns true, or leaves it to the route. */
export type AuthGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>;

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * alfred's SEP-10 endpoint as the standard describes it: real challenges built and signed with the sandbox's key by
 * the Stellar SDK, each usable once, and the client's signature verified with the SDK before a token is issued.
 */
export class StellarAuthSandbox {
  readonly stats: StellarAuthStats = {
    challengesIssued: 0,
    challengesVerified: 0,
    challengesRefused: 0,
    tokensIssued: 0,
  };
  /** The latest requests to `/auth`, newest last; bounded. */
  readonly requests: StellarAuthRequest[] = [];
  readonly settings: StellarAuthSettings;
  private readonly server = Keypair.fromSecret(SANDBOX_STELLAR_SERVER_SECRET);
  /** Hashes of challenges handed out and not yet used, with their deadline. */
  private readonly outstanding = new Map<string, number>();
  private readonly tokens = new Map<string, { subject: string; expiresAt: number }>();
  private readonly latest = new Map<string, string>();

  constructor(
    private readonly timeScale: number,
    private readonly counter: Counter,
    settings: Partial<StellarAuthSettings> = {},
  ) {
    this.settings = { tokenTtlMs: settings.tokenTtlMs ?? 120_000, revokeOnSignIn: settings.revokeOnSignIn ?? false };
  }

  reset(): void {
    this.outstanding.clear();
    this.tokens.clear();
    this.latest.clear();
    this.requests.length = 0;
    Object.assign(this.stats, { challengesIssued: 0, challengesVerified: 0, challengesRefused: 0, tokensIssued: 0 });
  }

  /** Ends every token now, as their expiry would. */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** The subject (`account` or `account:memo`) a live token stands for. */
  subjectOf(token: string): string | undefined {
    const entry = this.tokens.get(token);
    return entry && entry.expiresAt > Date.now() ? entry.subject : undefined;
  }

  register(app: FastifyInstance, guard: AuthGuard): void {
    app.get('/auth', async (request, reply) => {
      this.note(request);
      if (await guard(request, reply)) return reply;
      const query = record(request.query);
      const account = typeof query.account === 'string' ? query.account : '';
      const memo = typeof query.memo === 'string' ? query.memo : undefined;
      const domain = this.domain(request);
      if (!StrKey.isValidEd25519PublicKey(account)) return this.refuse(reply, 'account: not a Stellar public key');
      if (memo !== undefined && !/^\d{1,20}$/.test(memo)) return this.refuse(reply, 'memo: must be an id memo');
      if (query.home_domain !== undefined && query.home_domain !== domain) {
        return this.refuse(reply, `home_domain: this server is ${domain}`);
      }
      const transaction = WebAuth.buildChallengeTx(
        this.server,
        account,
        domain,
        CHALLENGE_TIMEOUT_SECONDS,
        SANDBOX_STELLAR_NETWORK,
        domain,
        memo ?? null,
      );
      const { tx } = WebAuth.readChallengeTx(
        transaction,
        this.server.publicKey(),
        SANDBOX_STELLAR_NETWORK,
        domain,
        domain,
      );
      this.outstanding.set(tx.hash().toString('hex'), Date.now() + CHALLENGE_TIMEOUT_SECONDS * 1000);
      this.stats.challengesIssued++;
      this.counter.inc('stellar_challenge', account);
      return reply.code(200).send({ transaction, network_passphrase: SANDBOX_STELLAR_NETWORK });
    });

    app.post('/auth', async (request, reply) => {
      this.note(request);
      if (await guard(request, reply)) return reply;
      const signed = record(request.body).transaction;
      if (typeof signed !== 'string' || !signed) return this.refuse(reply, 'transaction: required');
      const domain = this.domain(request);
      let subject: string;
      try {
        const read = WebAuth.readChallengeTx(signed, this.server.publicKey(), SANDBOX_STELLAR_NETWORK, domain, domain);
        const hash = read.tx.hash().toString('hex');
        const deadline = this.outstanding.get(hash);
        if (deadline === undefined || deadline < Date.now()) throw new Error('challenge unknown, used or expired');
        // The account has no signers on the ledger here, so its master key is the one signature SEP-10 accepts.
        WebAuth.verifyChallengeTxSigners(
          signed,
          this.server.publicKey(),
          SANDBOX_STELLAR_NETWORK,
          [read.clientAccountID],
          domain,
          domain,
        );
        this.outstanding.delete(hash);
        subject = read.memo ? `${read.clientAccountID}:${read.memo}` : read.clientAccountID;
      } catch (error) {
        this.stats.challengesRefused++;
        return this.refuse(reply, error instanceof Error ? error.message : String(error));
      }
      this.stats.challengesVerified++;
      return reply.code(200).send({ token: this.issue(subject, domain) });
    });
  }

  private issue(subject: string, domain: string): string {
    const now = Date.now();
    const expiresAt = now + this.settings.tokenTtlMs * this.timeScale;
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    // SEP-10's claims; `exp` in fractional seconds so a scaled lifetime stays exact.
    const claims = {
      iss: `http://${domain}/auth`,
      sub: subject,
      iat: now / 1000,
      exp: expiresAt / 1000,
      jti: randomUUID(),
    };
    const head = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
    const token = `${head}.${createHmac('sha256', SANDBOX_STELLAR_SERVER_SECRET).update(head).digest('base64url')}`;
    const previous = this.latest.get(subject);
    if (previous && this.settings.revokeOnSignIn) this.tokens.delete(previous);
    this.latest.set(subject, token);
    this.tokens.set(token, { subject, expiresAt });
    this.stats.tokensIssued++;
    this.counter.inc('stellar_token', subject);
    return token;
  }

  /** The host the client called: SEP-10's web_auth_domain, and the one home domain this server serves. */
  private domain(request: FastifyRequest): string {
    return request.headers.host ?? 'localhost';
  }

  private refuse(reply: FastifyReply, error: string): FastifyReply {
    return reply.code(400).send({ error });
  }

  private note(request: FastifyRequest): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === 'string') headers[name] = value;
    }
    const query: Record<string, string> = {};
    for (const [name, value] of Object.entries(record(request.query))) {
      if (typeof value === 'string') query[name] = value;
    }
    this.requests.push({
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
      query,
      headers,
      bodyFields: Object.keys(record(request.body)),
    });
    if (this.requests.length > 200) this.requests.shift();
  }
}
