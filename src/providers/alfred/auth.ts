import { createHash } from 'node:crypto';
import { Keypair, Networks, TransactionBuilder, WebAuth, type Transaction } from '@stellar/stellar-sdk';
import { z } from 'zod';
import { ConfigError } from '../../config';
import { FAILURE_TYPES, providerRefusal, providerTransient } from '../../errors';
import { classifyStatus, parseJson, sendRequest, type HttpResponse } from '../http';
import type { KycLiteBody } from './mapping';

const PROVIDER = 'alfred';

export type AlfredAuthKind = 'apikey' | 'stellar';

/** How to sign a customer in again when the token expires: the caller knows the KYC data, the client does not. */
export interface AlfredSession {
  /** One token per alfred user; our customer id. */
  key: string;
  login: () => Promise<KycLiteBody>;
}

/** A token a sign-in handed out. `kyc` only where the sign-in is KYC lite, which reports it. */
export interface IssuedToken {
  token: string;
  expiresAt: number;
  kyc?: boolean;
}

/** One way of getting the token alfred wants in `Authorization`; both variants share everything else. */
export interface AlfredAuthStrategy {
  readonly kind: AlfredAuthKind;
  /** Throws ProviderAuthFailed (final) only when alfred refuses our credentials; other faults as classified. */
  signIn(session: AlfredSession): Promise<IssuedToken>;
}

/** The documented 2-minute life, for a token whose own `exp` cannot be read. */
export const DEFAULT_TOKEN_TTL_MS = 120_000;

/**
 * The published Stellar keys of the sandbox: the account the client signs with when ALFRED_STELLAR_SECRET is unset,
 * and the public half of the key the sandbox signs its challenges with. Never valid anywhere but the sandbox.
 */
export const SANDBOX_STELLAR = {
  clientSecret: 'SB6JL72OWJPG6YCYNDQLLGMUSUEHBWLPBGUTDXNEIRT35XST2LRT3I2K',
  serverPublicKey: 'GAOKPGXAHQ5G4OLC6ZAVY6EAQSGX5VPFJ2UIISO6FL75SS4CACHZKYDV',
  /** Where the sandbox serves the Stellar variant, under its alfred base. */
  basePath: '/stellar',
} as const;

export const STELLAR_NETWORKS = { testnet: Networks.TESTNET, public: Networks.PUBLIC } as const;

/** A JWT's `exp` (fractional seconds allowed) as epoch ms; undefined for tokens we cannot read. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** When a token stops working: its own `exp`, or `ttlMs` from now for a token that does not say. */
export function tokenExpiresAt(token: string, now: number, ttlMs = DEFAULT_TOKEN_TTL_MS): number {
  return tokenExpiry(token) ?? now + ttlMs;
}

interface CachedToken {
  token: string;
  renewAt: number;
}

/**
 * The session tokens of one client. A session has at most one sign-in running: every caller that finds the token
 * missing, expired or refused awaits that one. Concurrent sign-ins for one alfred user would each replace the token
 * the others just got, and with thousands of invoices in flight some call would always hold a dead one.
 */
export class SessionTokens {
  private readonly cached = new Map<string, CachedToken>();
  private readonly renewals = new Map<string, Promise<IssuedToken>>();
  /** Sign-ins started: tests prove single-flight with it; never the token itself. */
  signIns = 0;

  constructor(
    private readonly strategy: AlfredAuthStrategy,
    private readonly now: () => number = Date.now,
  ) {}

  get kind(): AlfredAuthKind {
    return this.strategy.kind;
  }

  /** The session's token while it has life left, else the one renewal every caller shares. */
  async current(session: AlfredSession): Promise<string> {
    const cached = this.cached.get(session.key);
    if (cached && cached.renewAt > this.now()) return cached.token;
    return (await this.renew(session)).token;
  }

  /** Signs the session in now, or joins the sign-in already running for it. */
  renew(session: AlfredSession): Promise<IssuedToken> {
    const running = this.renewals.get(session.key);
    if (running) return running;
    this.signIns++;
    const renewal = this.strategy
      .signIn(session)
      .then((issued) => {
        this.store(session.key, issued.token, issued.expiresAt);
        return issued;
      })
      .finally(() => this.renewals.delete(session.key));
    this.renewals.set(session.key, renewal);
    return renewal;
  }

  /** A token alfred handed out some other way (payment-method's process token). */
  store(key: string, token: string, expiresAt: number): void {
    const now = this.now();
    // Renew a little early so a token does not expire in flight; the margin scales with the token's life.
    const margin = Math.min(5_000, Math.max(0, expiresAt - now) * 0.1);
    this.cached.set(key, { token, renewAt: expiresAt - margin });
    // Sessions of customers long gone would otherwise stay for the worker's life.
    if (this.cached.size > 10_000) {
      for (const [other, entry] of this.cached) if (entry.renewAt <= now) this.cached.delete(other);
    }
  }

  /** alfred refused `token`: forget it, unless a renewal already replaced it (then the new one stands). */
  invalidate(key: string, token: string): void {
    if (this.cached.get(key)?.token === token) this.cached.delete(key);
  }

  forget(key: string): void {
    this.cached.delete(key);
  }

  /**
   * Runs a user call with the session's token. A 401 means the token died early (expired, alfred restarted, another
   * worker signed the same user in): renew once, shared with every caller, and repeat. A second 401 is still an
   * expired token, not refused credentials (those are refused at sign-in), so it is retried later, never final.
   */
  async withToken(session: AlfredSession, call: (token: string) => Promise<HttpResponse>): Promise<HttpResponse> {
    const first = await this.current(session);
    const response = await call(first);
    if (response.status !== 401) return response;
    this.invalidate(session.key, first);
    const second = await this.current(session);
    const retried = await call(second);
    if (retried.status !== 401) return retried;
    this.invalidate(session.key, second);
    throw providerTransient(
      FAILURE_TYPES.unavailable,
      'alfred answered 401 to a freshly renewed session token; the token expired again, retrying later',
    );
  }
}

/** The Penny API: KYC lite (key and secret) signs the customer in and answers the token. */
export class ApiKeyAuth implements AlfredAuthStrategy {
  readonly kind = 'apikey';

  constructor(private readonly kycLite: (session: AlfredSession) => Promise<IssuedToken>) {}

  signIn(session: AlfredSession): Promise<IssuedToken> {
    return this.kycLite(session);
  }
}

export interface StellarAuthOptions {
  /** The Stellar variant's base, up to and including `/api/v1` (or wherever alfred puts `/auth`). */
  baseUrl: string;
  /** Our account's secret seed. Held in the Keypair only; never logged, never in a message. */
  secret: string;
  /** alfred's signing key: a challenge it did not sign is never signed by us. */
  serverPublicKey: string;
  networkPassphrase: string;
  /** The home domain the challenge must name; default the base URL's host. */
  homeDomain?: string;
  /** UNCONFIRMED: SEP-10 puts the endpoint at `/auth`; alfred's exact path is not documented. */
  authPath?: string;
  /** UNCONFIRMED: alfred documents API-Key/API-Secret on every call, so they go to `/auth` too. */
  headers: Record<string, string>;
  timeoutMs: number;
  tokenTtlMs?: number;
  now?: () => number;
}

const ChallengeResponseSchema = z.object({
  transaction: z.string().min(1),
  network_passphrase: z.string().optional(),
});

const TokenResponseSchema = z.object({ token: z.string().min(1) });

/** Auth (Get)'s answer, parsed; `memo` is the one we asked for. */
export interface StellarChallenge {
  transaction: string;
  networkPassphrase?: string | undefined;
  memo: string;
}

/**
 * SEP-10 memo for a customer: one Stellar account (ours) speaks for every customer, and the ID memo tells alfred which
 * one a token is for, so each customer keeps a session of its own. Derived, so every worker computes the same.
 */
export function customerMemo(sessionKey: string): string {
  const digest = createHash('sha256').update(sessionKey).digest('hex');
  // 60 bits: inside uint64 and inside every JSON number parser's exact range on the other side as a string.
  return BigInt(`0x${digest.slice(0, 15)}`).toString();
}

/**
 * alfred's Stellar variant: GET /auth answers a challenge transaction alfred signed; we check it is a real SEP-10
 * challenge for our account, from alfred's key, on our network, then sign it and POST it back for the token.
 */
export class StellarWebAuth implements AlfredAuthStrategy {
  readonly kind = 'stellar';
  private readonly keypair: Keypair;
  private readonly homeDomain: string;
  private readonly webAuthDomain: string;
  private readonly authUrl: string;
  private readonly now: () => number;

  constructor(private readonly options: StellarAuthOptions) {
    try {
      this.keypair = Keypair.fromSecret(options.secret);
    } catch {
      // Caught at startup, named by its variable, the seed never repeated.
      throw new ConfigError(['ALFRED_STELLAR_SECRET: not a valid Stellar secret seed (its checksum does not match)']);
    }
    this.authUrl = `${options.baseUrl.replace(/\/$/, '')}${options.authPath ?? '/auth'}`;
    // SEP-10: web_auth_domain is the host serving the endpoint; the home domain defaults to it.
    this.webAuthDomain = new URL(this.authUrl).host;
    this.homeDomain = options.homeDomain ?? this.webAuthDomain;
    this.now = options.now ?? Date.now;
  }

  /** Our account (G...): public, safe to log and to assert on. */
  get account(): string {
    return this.keypair.publicKey();
  }

  async signIn(session: AlfredSession): Promise<IssuedToken> {
    const token = await this.exchange(this.sign(await this.challenge(session.key)));
    return { token, expiresAt: tokenExpiresAt(token, this.now(), this.options.tokenTtlMs) };
  }

  /** Auth (Get): the challenge for our account and the session's memo, as alfred answers it (not yet checked). */
  async challenge(sessionKey: string): Promise<StellarChallenge> {
    const memo = customerMemo(sessionKey);
    const query = new URLSearchParams({ account: this.account, memo, home_domain: this.homeDomain });
    const response = await this.send('GET', `${this.authUrl}?${query.toString()}`);
    const data = this.readAuth(response, ChallengeResponseSchema, 'auth challenge');
    return { transaction: data.transaction, networkPassphrase: data.network_passphrase, memo };
  }

  /**
   * Signs only a challenge that verifies (alfred's key, our network, home and web-auth domain, our account and memo,
   * inside its time bounds): anything else could be a transaction someone wants our signature on.
   */
  sign(challenge: StellarChallenge): string {
    const network = this.options.networkPassphrase;
    if (challenge.networkPassphrase !== undefined && challenge.networkPassphrase !== network) {
      throw providerRefusal(
        FAILURE_TYPES.authFailed,
        `alfred's challenge is for another network ("${challenge.networkPassphrase}")`,
      );
    }
    let read: ReturnType<typeof WebAuth.readChallengeTx>;
    try {
      read = WebAuth.readChallengeTx(
        challenge.transaction,
        this.options.serverPublicKey,
        network,
        this.homeDomain,
        this.webAuthDomain,
      );
    } catch (error) {
      throw providerRefusal(
        FAILURE_TYPES.authFailed,
        `alfred's challenge did not verify: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (read.clientAccountID !== this.account || read.memo !== challenge.memo) {
      throw providerRefusal(FAILURE_TYPES.authFailed, "alfred's challenge names another account or memo");
    }
    const transaction = TransactionBuilder.fromXDR(challenge.transaction, network) as Transaction;
    transaction.sign(this.keypair);
    return transaction.toEnvelope().toXDR('base64');
  }

  /** Auth (Post): the signed challenge for the session token. */
  async exchange(signedTransaction: string): Promise<string> {
    const response = await this.send('POST', this.authUrl, { transaction: signedTransaction });
    return this.readAuth(response, TokenResponseSchema, 'auth token').token;
  }

  private send(method: 'GET' | 'POST', url: string, body?: unknown): Promise<HttpResponse> {
    return sendRequest(PROVIDER, {
      method,
      url,
      headers: {
        accept: 'application/json',
        ...this.options.headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: this.options.timeoutMs,
    });
  }

  /** A refused sign-in is our credentials refused: 4xx is final, 5xx/429 retried as usual. */
  private readAuth<S extends z.ZodType>(response: HttpResponse, schema: S, what: string): z.output<S> {
    if (response.status < 200 || response.status >= 300) {
      throw classifyStatus(PROVIDER, response, `${what}: ${authError(response.text)}`, FAILURE_TYPES.authFailed);
    }
    return parseJson(PROVIDER, schema, response.text, what);
  }
}

/** SEP-10 servers answer `{error}`; only that, never the body (it may echo the signed challenge). */
function authError(text: string): string {
  try {
    const parsed = z.object({ error: z.string() }).safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.error.slice(0, 200) : 'unreadable error body';
  } catch {
    return 'unreadable error body';
  }
}
