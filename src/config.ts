import os from 'node:os';
import path from 'node:path';
import { existsSync } from 'node:fs';
import {
  loadClientConfig,
  loadClientConfigProfile,
  type ClientConfigProfile,
  type ClientConfigTLS,
} from '@temporalio/envconfig';
import { z } from 'zod';
import { PROVIDER_NAMES, type ProviderName } from './domain/constants';
import type { PayOneState } from './providers/payone/mapping';
import { StatusAliasesSchema } from './providers/payone/schemas';
import { bitfinexActivitiesPerSecond } from './providers/bitfinex/rate';
import { encryptionKeys, type PayloadEncryptionKey } from './temporal/encryption-keys';
import { DEFAULT_INVOICE_TIMING } from './workflows/definitions';

export type { PayloadEncryptionKey } from './temporal/encryption-keys';

/** The project's root folder, wherever the process was started from. */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

const hostPort = z.string().superRefine((value, ctx) => {
  const match = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(value);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: 'expected host:port, for example localhost:7233' });
  } else if (Number(match[1]) < 1 || Number(match[1]) > 65535) {
    ctx.addIssue({ code: 'custom', message: 'the port must be between 1 and 65535' });
  }
});

const namespaceName = z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'a namespace name');

const port = z.coerce.number().int('a port is a whole number').min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
const url = z.url();
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

/**
 * The published development key (base64 of 32 bytes): used only outside production when PAYLOAD_ENCRYPTION_KEYS is
 * unset, so a fresh checkout runs with encryption switched on. It is in this file, so it protects nothing.
 */
export const DEVELOPMENT_ENCRYPTION_KEY = {
  id: 'dev',
  base64: 'cGF5bWVudC1vcmNoZXN0cmF0b3ItZGV2LWtleS0wMDE=',
} as const;

/**
 * The published development token of the Xprizo webhook URLs: used only outside production when XPRIZO_WEBHOOK_TOKEN is
 * unset, so `npm start` and the tests run with the token check switched on. It is in this file, so it protects nothing.
 */
export const DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN = 'dev-xprizo-webhook-token-published-protects-nothing';

/**
 * `token,...`: path-segment-safe and long enough not to be guessed (`openssl rand -hex 32`); the first is the one we
 * register with Xprizo, every one is accepted, so a rotation prepends the new token and drops the old once Xprizo
 * calls the new URL. Messages never echo a token.
 */
const webhookTokens = z.string().transform((value, ctx): string[] => {
  const tokens = value.split(',').map((token) => token.trim());
  tokens.forEach((token, index) => {
    if (!/^[A-Za-z0-9_-]{32,256}$/.test(token)) {
      ctx.addIssue({
        code: 'custom',
        path: [index],
        message: `entry ${index + 1}: expected 32 to 256 characters of [A-Za-z0-9_-] (openssl rand -hex 32)`,
      });
    }
  });
  return tokens;
});

/** Variables whose values an error message must not repeat. */
const SECRET_VARIABLES = new Set([
  'PAYLOAD_ENCRYPTION_KEYS',
  'STORE_DATABASE_URL',
  'GATEWAY_KEYS',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'XPRIZO_WEBHOOK_TOKEN',
  'ALFRED_STELLAR_SECRET',
]);

/** `alfred,bitfinex`: the providers a deployment serves; an unknown name is a typo that would silently drop one. */
const providerList = z.string().transform((value, ctx): ProviderName[] => {
  const names = splitList(value);
  const known: readonly string[] = PROVIDER_NAMES;
  for (const name of names) {
    if (!known.includes(name)) {
      ctx.addIssue({ code: 'custom', message: `unknown provider "${name}" (one of ${PROVIDER_NAMES.join(', ')})` });
    }
  }
  return PROVIDER_NAMES.filter((name) => names.includes(name));
});

/**
 * PAYONE_STATUS_ALIASES: JSON `{"<status PayOne answers>": "<our PayOne state>"}`, entries over the built-in table.
 * Each problem names the entry, so a typo in one status is found without reading the whole table.
 */
const payoneStatusAliases = z.string().transform((value, ctx): Record<string, PayOneState> => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not JSON; expected {"<status PayOne answers>": "<PayOne state>"}' });
    return z.NEVER;
  }
  const table = StatusAliasesSchema.safeParse(parsed);
  if (!table.success) {
    for (const issue of table.error.issues) {
      const entry = issue.path.length > 0 ? `entry ${JSON.stringify(String(issue.path[0]))}: ` : '';
      ctx.addIssue({ code: 'custom', message: `${entry}${issue.message}` });
    }
    return z.NEVER;
  }
  return table.data;
});

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /**
   * The connection itself is read by Temporal's envconfig (see `temporalConnection`): these entries only check the
   * values the environment gives, so a typo is named here with the rest.
   */
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: namespaceName.optional(),
  // envconfig reads anything but `1`/`true` as off, so `yes` would silently mean no TLS.
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0'], 'true or false').optional(),

  TEMPORAL_CLI: optionalString,
  TEMPORAL_CLI_CACHE_DIR: optionalString,
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_DB_FILE: z
    .string()
    .min(1)
    .default(path.join(PROJECT_ROOT, '.data', 'temporal.db')),
  /** Comma-separated PRAGMA=VALUE pairs for the dev server's SQLite file. */
  TEMPORAL_SQLITE_PRAGMAS: z.string().default('journal_mode=wal,synchronous=normal'),

  /** `npm run cluster`: an existing PostgreSQL (postgres://user:password@host:port/db) instead of a local one. */
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'expected postgres://user:password@host:port/database' })
    .optional(),
  /** `npm run cluster`: where the machine's PostgreSQL server binaries are (initdb, postgres, pg_isready). */
  POSTGRES_BIN_DIR: z.string().min(1).default('/usr/lib/postgresql/15/bin'),
  /** `npm run cluster`: its PostgreSQL data, server configuration and logs. */
  CLUSTER_DATA_DIR: z
    .string()
    .min(1)
    .default(path.join(PROJECT_ROOT, '.data', 'cluster')),

  /**
   * Invoices kept in the worker's memory between their steps. Each costs about 1 MiB of worker RSS (measured by the
   * benchmark's waiting mode); one not cached replays its short history when it next moves, a few milliseconds. 500 keeps
   * a worker under 1 GiB however many invoices wait. The SDK's own default is sized from the heap limit (2,310 here).
   */
  WORKER_MAX_CACHED_WORKFLOWS: positiveInt.default(500),
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt.default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt.default(40),
  WORKER_WORKFLOW_POLLERS: positiveInt.optional(),
  WORKER_ACTIVITY_POLLERS: positiveInt.optional(),
  WORKER_REUSE_V8_CONTEXT: bool.default(true),
  /** `GET /healthz` of the worker process on this port (all interfaces); no health server when unset. */
  WORKER_HEALTH_PORT: port.optional(),
  /**
   * How long a stopping worker lets activities in flight finish before it cancels them: a provider call cut short is
   * an outcome the invoice must then ask the provider about. Keep the platform's stop grace period above it.
   */
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  /** `host:port` where the Temporal SDK serves its Prometheus metrics (e.g. 0.0.0.0:9464); none when unset. */
  TEMPORAL_METRICS_BIND: hostPort.optional(),
  /** OpenTelemetry's standard names: traces go over OTLP/HTTP when either is set, and nowhere otherwise. */
  OTEL_EXPORTER_OTLP_ENDPOINT: url.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url.optional(),
  OTEL_SERVICE_NAME: optionalString,
  /**
   * Bitfinex allows 90 requests a minute per key (UNCONFIRMED). Every request, webhook verification included, is one
   * activity attempt on the Bitfinex task queue, whose rate the server holds for all workers together; that rate is
   * derived from these (see `bitfinexActivitiesPerSecond`). Tests shrink the window to run in seconds.
   */
  BITFINEX_RATE_LIMIT_REQUESTS: positiveInt.default(90),
  BITFINEX_RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().positive().default(60),
  BITFINEX_RATE_SAFETY_MARGIN: z.coerce.number().min(0).max(0.9).default(0.2),
  BITFINEX_MAX_CONCURRENT_REQUESTS: positiveInt.default(4),
  /** Overrides the derived task-queue rate; for experiments only, since nothing then checks it against the limit. */
  BITFINEX_MAX_ACTIVITIES_PER_SECOND: z.coerce.number().positive().optional(),

  INVOICE_POLL_AFTER_SECONDS: positiveInt.default(DEFAULT_INVOICE_TIMING.pollAfterSeconds),
  INVOICE_POLL_INITIAL_INTERVAL_SECONDS: positiveInt.default(DEFAULT_INVOICE_TIMING.pollInitialIntervalSeconds),
  INVOICE_POLL_MAX_INTERVAL_SECONDS: positiveInt.default(DEFAULT_INVOICE_TIMING.pollMaxIntervalSeconds),
  /** How long a creating or money-moving provider call is retried before the provider is asked what happened. */
  INVOICE_PROVIDER_CALL_BUDGET_SECONDS: positiveInt.optional(),

  GATEWAY_PORT: port.default(3000),
  GATEWAY_HOST: z.string().default('127.0.0.1'),
  /**
   * The principals' hashed API keys and the tenants' policies (JSON, see README "Access"); `payorch keys create` makes
   * entries. `npm start` makes development principals when neither this nor GATEWAY_KEYS is set.
   */
  GATEWAY_KEYS_FILE: optionalString,
  /** The same document inline, for platforms that pass configuration only through the environment. */
  GATEWAY_KEYS: optionalString,
  /** Requests a minute one principal may make to the service API, and one source address to any route. */
  GATEWAY_RATE_LIMIT_PER_KEY: positiveInt.default(3000),
  GATEWAY_RATE_LIMIT_PER_ADDRESS: positiveInt.default(12000),
  GATEWAY_PUBLIC_URL: url.optional(),
  /** The Temporal UI's origin, allowed to call the codec server from the browser; default the dev server's UI. */
  TEMPORAL_UI_ORIGIN: z.url().optional(),
  /** `id:base64key,...` (32-byte AES-256 keys), the first active; required in production. */
  PAYLOAD_ENCRYPTION_KEYS: encryptionKeys.optional(),
  /**
   * How long a webhook that names only the provider's reference is held while that reference is not yet searchable
   * (the provider can call back before the workflow's record of the call reaches visibility), before answering 404.
   */
  GATEWAY_REFERENCE_WAIT_MS: z.coerce.number().int().min(0).default(2000),

  /**
   * The orchestrator's own PostgreSQL store (event log, created invoice ids, webhook endpoints and their deliveries,
   * reconciliation reports). Required in production. Unset in development: `npm start` serves an embedded one
   * (PGlite, PostgreSQL compiled to WebAssembly) from STORE_DATA_DIR on STORE_PORT.
   */
  STORE_DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'expected postgres://user:password@host:port/database' })
    .optional(),
  STORE_DATA_DIR: z
    .string()
    .min(1)
    .default(path.join(PROJECT_ROOT, '.data', 'store')),
  STORE_PORT: port.default(5433),
  /** Outgoing webhooks: the first retry's delay, the longest delay between retries, and when a delivery gives up. */
  WEBHOOK_RETRY_INITIAL_SECONDS: z.coerce.number().positive().default(30),
  WEBHOOK_RETRY_MAX_INTERVAL_SECONDS: z.coerce.number().positive().default(3_600),
  WEBHOOK_GIVE_UP_AFTER_SECONDS: z.coerce
    .number()
    .positive()
    .default(4 * 24 * 3_600),
  /** An endpoint's answer must come within this; a slower one counts as failed and is retried. */
  WEBHOOK_TIMEOUT_MS: positiveInt.default(10_000),
  /**
   * Whether endpoints may point at loopback, private or link-local addresses. Unset: `refuse` in production (a tenant
   * must not reach our own network through our workers), `allow` elsewhere (tests and `npm start` receive on 127.0.0.1).
   */
  WEBHOOK_PRIVATE_DESTINATIONS: z.enum(['allow', 'refuse']).optional(),
  /** The reconciliation schedule (a cron expression, UTC) and how far back each run looks. */
  RECONCILIATION_CRON: z.string().min(1).default('15 3 * * *'),
  RECONCILIATION_LOOKBACK_HOURS: positiveInt.default(48),

  SANDBOX_PORT: port.default(4010),
  /** `npm start` drives one sample invoice per provider and direction once the stack is up. */
  START_SAMPLES: bool.default(true),

  ALFRED_BASE_URL: url.optional(),
  ALFRED_API_KEY: optionalString,
  ALFRED_API_SECRET: optionalString,
  ALFRED_WEBHOOK_SECRET: optionalString,
  /**
   * How alfred sessions get their token: `apikey` (the Penny API: KYC lite signs the customer in) or `stellar` (the
   * Stellar integration: a SEP-10 challenge signed with ALFRED_STELLAR_SECRET). ALFRED_BASE_URL is that variant's base.
   */
  ALFRED_AUTH: z.enum(['apikey', 'stellar']).default('apikey'),
  /** The deployment's Stellar account secret seed (S...), which signs alfred's SEP-10 challenges. */
  ALFRED_STELLAR_SECRET: z
    .string()
    .regex(/^S[A-Z2-7]{55}$/, 'a Stellar secret seed: S followed by 55 base32 characters')
    .optional(),
  /** alfred's SEP-10 signing key (G..., its stellar.toml SIGNING_KEY): a challenge not signed by it is refused. */
  ALFRED_STELLAR_SERVER_KEY: z
    .string()
    .regex(/^G[A-Z2-7]{55}$/, 'a Stellar public key: G followed by 55 base32 characters')
    .optional(),
  /** The Stellar network alfred's challenges are built for. */
  ALFRED_STELLAR_NETWORK: z.enum(['testnet', 'public']).optional(),
  /** The home domain the challenge must name; default the host of ALFRED_BASE_URL. */
  ALFRED_STELLAR_HOME_DOMAIN: optionalString,
  PAYONE_BASE_URL: url.optional(),
  PAYONE_MERCHANT_ID: optionalString,
  PAYONE_AUTH_TOKEN: optionalString,
  /** Statuses inquireInvoice answers that the built-in table lacks or reads wrong; see payoneStatusAliases. */
  PAYONE_STATUS_ALIASES: payoneStatusAliases.optional(),
  XPRIZO_BASE_URL: url.optional(),
  XPRIZO_API_KEY: optionalString,
  XPRIZO_MERCHANT_ACCOUNT_ID: optionalString,
  /** Secret path segment(s) of the webhook URLs registered with Xprizo, which signs nothing; see webhookTokens. */
  XPRIZO_WEBHOOK_TOKEN: webhookTokens.optional(),
  /**
   * How SetApprovalWebhook / SetPaymentWebhook carry our URL: `query` (`?url=`, Xprizo's current docs) or `path` (the
   * older document's `/SetApprovalWebhook/{url}`).
   */
  XPRIZO_WEBHOOK_URL_FORM: z.enum(['query', 'path']).default('query'),
  BITFINEX_BASE_URL: url.optional(),
  BITFINEX_API_KEY: optionalString,
  BITFINEX_API_SECRET: optionalString,
  PROVIDER_TIMEOUT_MS: positiveInt.default(10_000),
  /** Comma-separated providers this deployment serves; default all four, required in production. */
  PROVIDERS: providerList.optional(),
});

export type Env = z.output<typeof EnvSchema>;

export interface Config {
  readonly env: Env['NODE_ENV'];
  readonly logLevel: Env['LOG_LEVEL'];
  readonly temporal: {
    /** Set (by the environment or the profile): an existing cluster; nothing is started. */
    readonly address?: string;
    /** The profile's, else `payments` (the dev stack's), not the CLI's `default`. */
    readonly namespace: string;
    /** Temporal's own form: files or inline PEM, `disabled` to force plaintext. */
    readonly tls?: ClientConfigTLS;
    readonly apiKey?: string;
    readonly grpcMeta?: Readonly<Record<string, string>>;
  };
  readonly devServer: {
    readonly cliPath?: string;
    readonly cacheDir: string;
    readonly port: number;
    readonly uiPort: number;
    readonly dbFile: string;
    readonly sqlitePragmas: readonly string[];
  };
  /** `npm run cluster`: Temporal's services as separate processes on PostgreSQL. */
  readonly cluster: {
    readonly databaseUrl?: string;
    readonly postgresBinDir: string;
    readonly dataDir: string;
  };
  /** The orchestrator's own store; `databaseUrl` unset means the development stack's embedded one. */
  readonly store: {
    readonly databaseUrl?: string;
    readonly dataDir: string;
    readonly port: number;
  };
  readonly webhooks: {
    readonly retryInitialSeconds: number;
    readonly retryMaxIntervalSeconds: number;
    readonly giveUpAfterSeconds: number;
    readonly timeoutMs: number;
    readonly privateDestinations: 'allow' | 'refuse';
  };
  readonly reconciliation: {
    readonly cron: string;
    readonly lookbackHours: number;
  };
  readonly worker: {
    readonly maxCachedWorkflows: number;
    readonly maxConcurrentActivityTaskExecutions: number;
    readonly maxConcurrentWorkflowTaskExecutions: number;
    readonly workflowPollers?: number;
    readonly activityPollers?: number;
    readonly reuseV8Context: boolean;
    readonly bitfinexMaxActivitiesPerSecond: number;
    /** Activities the Bitfinex worker runs at once: each one a request that a stalled worker could send late. */
    readonly bitfinexMaxConcurrentRequests: number;
    readonly healthPort?: number;
    readonly shutdownGraceMs: number;
  };
  readonly telemetry: {
    /** Where the SDK's Prometheus exporter listens (TEMPORAL_METRICS_BIND). */
    readonly temporalMetricsBind?: string;
    /** The OTLP/HTTP traces URL; tracing is off when unset. */
    readonly otlpTracesUrl?: string;
    /** OTEL_SERVICE_NAME, else each process names itself (gateway, worker). */
    readonly serviceName?: string;
  };
  readonly invoiceTiming: {
    readonly pollAfterSeconds: number;
    readonly pollInitialIntervalSeconds: number;
    readonly pollMaxIntervalSeconds: number;
    readonly providerCallBudgetSeconds?: number;
  };
  readonly gateway: {
    readonly port: number;
    readonly host: string;
    readonly keysFile?: string;
    readonly keysJson?: string;
    readonly rateLimitPerKey: number;
    readonly rateLimitPerAddress: number;
    readonly publicUrl?: string;
    /** Where providers and sandboxes reach the gateway: the public URL, else the local address it listens on. */
    readonly url: string;
    readonly referenceWaitMs: number;
  };
  readonly codecServer: {
    readonly uiOrigin: string;
  };
  readonly payloadEncryption: {
    /** The first encrypts; every one decrypts the payloads that name it. */
    readonly keys: readonly PayloadEncryptionKey[];
    /** True when the published development key stands in for an unset PAYLOAD_ENCRYPTION_KEYS. */
    readonly developmentKey: boolean;
  };
  readonly sandboxPort: number;
  readonly startSamples: boolean;
  readonly providers: {
    /** The providers this deployment serves (PROVIDERS); the others get no client. */
    readonly enabled: readonly ProviderName[];
    readonly timeoutMs: number;
    readonly alfred: {
      baseUrl?: string;
      apiKey?: string;
      apiSecret?: string;
      webhookSecret?: string;
      /** Always set (the production check reads every entry); the Stellar fields only for `stellar`. */
      auth: AlfredAuthConfig;
    };
    readonly payone: {
      baseUrl?: string;
      merchantId?: string;
      authToken?: string;
      /** Configured entries only (PAYONE_STATUS_ALIASES); the adapter lays them over its built-in table. */
      statusAliases?: Readonly<Record<string, PayOneState>>;
    };
    readonly xprizo: {
      baseUrl?: string;
      apiKey?: string;
      merchantAccountId?: string;
      /** `current` goes into the URLs we register with Xprizo; a webhook whose URL holds any `accepted` one passes. */
      webhookToken: { current?: string; accepted: readonly string[] };
      /** Where the URL goes in SetApprovalWebhook / SetPaymentWebhook (XPRIZO_WEBHOOK_URL_FORM). */
      webhookUrlForm: 'query' | 'path';
    };
    readonly bitfinex: { baseUrl?: string; apiKey?: string; apiSecret?: string };
  };
}

export type AlfredAuthConfig =
  | { readonly kind: 'apikey' }
  | {
      readonly kind: 'stellar';
      readonly secret?: string;
      readonly serverKey?: string;
      readonly network?: 'testnet' | 'public';
      readonly homeDomain?: string;
    };

export class ConfigError extends Error {
  readonly type = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid environment:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

function deepFreeze<T>(value: T): T {
  // Typed arrays with elements cannot be frozen (the key bytes stay private to the config object instead).
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'payment-orchestrator', 'bin');
}

/**
 * What production refuses, each under its variable's name and never with its value. Outside production a provider
 * left unconfigured talks to its local sandbox with published credentials; in production that would send customers'
 * payments nowhere, or accept webhooks signed with a secret anyone can read, so every gap is an error at startup.
 */
function productionProblems(env: Env): string[] {
  const problems: string[] = [];
  const required = (name: keyof Env, why: string) => {
    if (env[name] === undefined) problems.push(`${name}: required when NODE_ENV=production (${why})`);
  };
  required('STORE_DATABASE_URL', 'the event log, webhook endpoints and reconciliation reports live there');
  if (env.PROVIDERS === undefined) {
    required('PROVIDERS', `the comma-separated providers this deployment serves, of ${PROVIDER_NAMES.join(', ')}`);
  } else if (env.PROVIDERS.length === 0) {
    problems.push('PROVIDERS: names no provider; production serves at least one');
  }
  const needs: Record<ProviderName, readonly (keyof Env)[]> = {
    alfred: ['ALFRED_BASE_URL', 'ALFRED_API_KEY', 'ALFRED_API_SECRET', 'ALFRED_WEBHOOK_SECRET'],
    payone: ['PAYONE_BASE_URL', 'PAYONE_MERCHANT_ID', 'PAYONE_AUTH_TOKEN'],
    xprizo: ['XPRIZO_BASE_URL', 'XPRIZO_API_KEY', 'XPRIZO_MERCHANT_ACCOUNT_ID', 'XPRIZO_WEBHOOK_TOKEN'],
    bitfinex: ['BITFINEX_BASE_URL', 'BITFINEX_API_KEY', 'BITFINEX_API_SECRET'],
  };
  for (const provider of env.PROVIDERS ?? []) {
    for (const name of needs[provider])
      required(name, `${provider} is in PROVIDERS; no sandbox fallback in production`);
  }
  if (env.PROVIDERS?.includes('alfred') && env.ALFRED_AUTH === 'stellar') {
    // The sandbox's published keys would sign challenges anyone can sign, and trust a server key anyone holds.
    for (const name of ['ALFRED_STELLAR_SECRET', 'ALFRED_STELLAR_SERVER_KEY', 'ALFRED_STELLAR_NETWORK'] as const)
      required(name, 'ALFRED_AUTH=stellar; no sandbox fallback in production');
  }
  // A base URL on this machine's sandbox port is the development stack's sandbox, whatever the path says.
  const loopback = /^(?:localhost|.*\.localhost|127(?:\.\d{1,3}){3}|\[::1\]|0\.0\.0\.0)$/i;
  for (const name of ['ALFRED_BASE_URL', 'PAYONE_BASE_URL', 'XPRIZO_BASE_URL', 'BITFINEX_BASE_URL'] as const) {
    const value = env[name];
    if (value === undefined) continue;
    const target = new URL(value);
    const targetPort = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
    if (loopback.test(target.hostname) && targetPort === env.SANDBOX_PORT) {
      problems.push(`${name}: points at the local provider sandbox (port ${env.SANDBOX_PORT}); refused in production`);
    }
  }
  if (!env.PAYLOAD_ENCRYPTION_KEYS) {
    required(
      'PAYLOAD_ENCRYPTION_KEYS',
      'id:base64key,..., e.g. k1:$(openssl rand -base64 32); without it customer data would be sealed with the ' +
        'published development key',
    );
  } else {
    const published = Buffer.from(DEVELOPMENT_ENCRYPTION_KEY.base64, 'base64');
    for (const { id, key } of env.PAYLOAD_ENCRYPTION_KEYS) {
      if (published.equals(key)) {
        problems.push(
          `PAYLOAD_ENCRYPTION_KEYS: key id "${id}" is the published development key; refused in production`,
        );
      }
    }
  }
  required('GATEWAY_PUBLIC_URL', 'the https URL providers send webhooks to');
  if (env.GATEWAY_KEYS === undefined) {
    required('GATEWAY_KEYS_FILE', 'the file of hashed API keys of the principals allowed to call the gateway');
  }
  return problems;
}

function bitfinexRate(env: Env): number {
  const rate = bitfinexActivitiesPerSecond({
    requests: env.BITFINEX_RATE_LIMIT_REQUESTS,
    windowSeconds: env.BITFINEX_RATE_LIMIT_WINDOW_SECONDS,
    safetyMargin: env.BITFINEX_RATE_SAFETY_MARGIN,
    maxConcurrentRequests: env.BITFINEX_MAX_CONCURRENT_REQUESTS,
  });
  if (rate === undefined) {
    throw new ConfigError([
      "BITFINEX_RATE_LIMIT_REQUESTS: after BITFINEX_RATE_SAFETY_MARGIN, too few to cover the task queue's bursts and " +
        'BITFINEX_MAX_CONCURRENT_REQUESTS; raise the limit or lower the others',
    ]);
  }
  return rate;
}

/**
 * As OpenTelemetry's exporters read the two variables: the signal-specific one is the full URL, the general one a base
 * that the traces path is appended to.
 */
function otlpTracesUrl(env: Env): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces`;
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * This project's names from before it read Temporal's standard ones. Refused rather than aliased, so a deployment
 * never runs with two spellings of one setting that disagree, and the message names the variable to set instead.
 */
const RENAMED_VARIABLES: Readonly<Record<string, string>> = {
  TEMPORAL_TLS_CERT_PATH: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY_PATH: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA_PATH: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
};

const DEFAULT_NAMESPACE = 'payments';

const ProfileValuesSchema = z.object({ address: hostPort.optional(), namespace: namespaceName.optional() });

/**
 * The Temporal connection as Temporal's envconfig reads it: the profile file (TEMPORAL_CONFIG_FILE, else the CLI's
 * `temporalio/temporal.toml` in the user's config folder), the profile (TEMPORAL_PROFILE, else `default`), then the
 * standard variables over it. The package's own failures are plain errors, so each step is checked here to name the
 * variable to fix.
 */
function temporalConnection(variables: Record<string, string>): Config['temporal'] {
  const file = variables.TEMPORAL_CONFIG_FILE;
  const fileName = file ?? 'the default profile file';
  // envconfig treats a missing file as no file, which would quietly drop an explicit choice.
  if (file !== undefined && !existsSync(file)) {
    throw new ConfigError([`TEMPORAL_CONFIG_FILE: no such file (got ${JSON.stringify(file)})`]);
  }
  let profiles: string[];
  try {
    profiles = Object.keys(loadClientConfig({ overrideEnvVars: variables }).profiles);
  } catch (error) {
    throw new ConfigError([`TEMPORAL_CONFIG_FILE: ${fileName} is not a valid profile file: ${messageOf(error)}`]);
  }
  const profileName = variables.TEMPORAL_PROFILE;
  if (profileName !== undefined && !profiles.includes(profileName)) {
    const known = profiles.length > 0 ? `it has ${profiles.join(', ')}` : 'it has none';
    throw new ConfigError([`TEMPORAL_PROFILE: no profile "${profileName}" in ${fileName} (${known})`]);
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: variables });
  } catch (error) {
    // What is left is a conflict between the file and the variables, such as a certificate given as path and data.
    throw new ConfigError([
      `TEMPORAL_TLS_*: ${messageOf(error)} (the variables over profile "${profileName ?? 'default'}")`,
    ]);
  }
  const checked = ProfileValuesSchema.safeParse(profile);
  if (!checked.success) {
    throw new ConfigError(
      checked.error.issues.map((issue) => {
        const field = String(issue.path[0]);
        return `TEMPORAL_CONFIG_FILE: ${field} of profile "${profileName ?? 'default'}": ${issue.message}`;
      }),
    );
  }
  const tls = profile.tls;
  if (tls && Boolean(tls.clientCert) !== Boolean(tls.clientKey)) {
    throw new ConfigError([
      "TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH (or their _DATA forms, or the profile's " +
        'client_cert / client_key): set both or neither (mutual TLS)',
    ]);
  }
  return {
    address: checked.data.address,
    namespace: checked.data.namespace ?? DEFAULT_NAMESPACE,
    ...(tls ? { tls } : {}),
    ...(profile.apiKey !== undefined ? { apiKey: profile.apiKey } : {}),
    ...(profile.grpcMeta !== undefined ? { grpcMeta: profile.grpcMeta } : {}),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses the environment once. Every problem is reported together, each under its variable's name. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as shells and compose files often leave them.
  const cleaned: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && value !== '') cleaned[name] = value;
  }
  const renamed = Object.entries(RENAMED_VARIABLES)
    .filter(([old]) => cleaned[old] !== undefined)
    .map(([old, current]) => `${old}: renamed ${current}, Temporal's standard name (the CLI reads it too)`);
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success || renamed.length > 0) {
    throw new ConfigError([
      ...renamed,
      ...(parsed.success ? [] : parsed.error.issues).map((issue) => {
        const name = String(issue.path[0] ?? '(environment)');
        const got =
          typeof source[name] === 'string' && !SECRET_VARIABLES.has(name)
            ? ` (got ${JSON.stringify(source[name])})`
            : '';
        return `${name}: ${issue.message}${got}`;
      }),
    ]);
  }
  const env = parsed.data;
  const temporal = temporalConnection(cleaned);
  if (env.NODE_ENV === 'production') {
    const problems = productionProblems(env);
    if (problems.length > 0) throw new ConfigError(problems);
  }
  // Production never falls back to the published token: without one of its own every Xprizo webhook is refused.
  const xprizoTokens =
    env.XPRIZO_WEBHOOK_TOKEN ?? (env.NODE_ENV === 'production' ? [] : [DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN]);
  const encryptionKeys = env.PAYLOAD_ENCRYPTION_KEYS ?? [
    { id: DEVELOPMENT_ENCRYPTION_KEY.id, key: Buffer.from(DEVELOPMENT_ENCRYPTION_KEY.base64, 'base64') },
  ];
  const config: Config = {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    temporal,
    devServer: {
      cliPath: env.TEMPORAL_CLI,
      cacheDir: env.TEMPORAL_CLI_CACHE_DIR ?? defaultCacheDir(source),
      port: env.TEMPORAL_PORT,
      uiPort: env.TEMPORAL_UI_PORT,
      dbFile: path.resolve(env.TEMPORAL_DB_FILE),
      sqlitePragmas: env.TEMPORAL_SQLITE_PRAGMAS.split(',')
        .map((pragma) => pragma.trim())
        .filter(Boolean),
    },
    cluster: {
      databaseUrl: env.DATABASE_URL,
      postgresBinDir: env.POSTGRES_BIN_DIR,
      dataDir: path.resolve(env.CLUSTER_DATA_DIR),
    },
    store: { databaseUrl: env.STORE_DATABASE_URL, dataDir: path.resolve(env.STORE_DATA_DIR), port: env.STORE_PORT },
    webhooks: {
      retryInitialSeconds: env.WEBHOOK_RETRY_INITIAL_SECONDS,
      retryMaxIntervalSeconds: env.WEBHOOK_RETRY_MAX_INTERVAL_SECONDS,
      giveUpAfterSeconds: env.WEBHOOK_GIVE_UP_AFTER_SECONDS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      privateDestinations: env.WEBHOOK_PRIVATE_DESTINATIONS ?? (env.NODE_ENV === 'production' ? 'refuse' : 'allow'),
    },
    reconciliation: { cron: env.RECONCILIATION_CRON, lookbackHours: env.RECONCILIATION_LOOKBACK_HOURS },
    worker: {
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentActivityTaskExecutions: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      workflowPollers: env.WORKER_WORKFLOW_POLLERS,
      activityPollers: env.WORKER_ACTIVITY_POLLERS,
      reuseV8Context: env.WORKER_REUSE_V8_CONTEXT,
      bitfinexMaxActivitiesPerSecond: env.BITFINEX_MAX_ACTIVITIES_PER_SECOND ?? bitfinexRate(env),
      bitfinexMaxConcurrentRequests: env.BITFINEX_MAX_CONCURRENT_REQUESTS,
      healthPort: env.WORKER_HEALTH_PORT,
      shutdownGraceMs: env.WORKER_SHUTDOWN_GRACE_MS,
    },
    telemetry: {
      temporalMetricsBind: env.TEMPORAL_METRICS_BIND,
      otlpTracesUrl: otlpTracesUrl(env),
      serviceName: env.OTEL_SERVICE_NAME,
    },
    invoiceTiming: {
      pollAfterSeconds: env.INVOICE_POLL_AFTER_SECONDS,
      pollInitialIntervalSeconds: env.INVOICE_POLL_INITIAL_INTERVAL_SECONDS,
      pollMaxIntervalSeconds: env.INVOICE_POLL_MAX_INTERVAL_SECONDS,
      ...(env.INVOICE_PROVIDER_CALL_BUDGET_SECONDS
        ? { providerCallBudgetSeconds: env.INVOICE_PROVIDER_CALL_BUDGET_SECONDS }
        : {}),
    },
    gateway: {
      port: env.GATEWAY_PORT,
      host: env.GATEWAY_HOST,
      keysFile: env.GATEWAY_KEYS_FILE,
      keysJson: env.GATEWAY_KEYS,
      rateLimitPerKey: env.GATEWAY_RATE_LIMIT_PER_KEY,
      rateLimitPerAddress: env.GATEWAY_RATE_LIMIT_PER_ADDRESS,
      publicUrl: env.GATEWAY_PUBLIC_URL,
      url: (
        env.GATEWAY_PUBLIC_URL ??
        `http://${env.GATEWAY_HOST === '0.0.0.0' ? '127.0.0.1' : env.GATEWAY_HOST}:${env.GATEWAY_PORT}`
      ).replace(/\/$/, ''),
      referenceWaitMs: env.GATEWAY_REFERENCE_WAIT_MS,
    },
    codecServer: {
      uiOrigin: (env.TEMPORAL_UI_ORIGIN ?? `http://localhost:${env.TEMPORAL_UI_PORT}`).replace(/\/$/, ''),
    },
    payloadEncryption: { keys: encryptionKeys, developmentKey: !env.PAYLOAD_ENCRYPTION_KEYS },
    sandboxPort: env.SANDBOX_PORT,
    startSamples: env.START_SAMPLES,
    providers: {
      enabled: env.PROVIDERS ?? PROVIDER_NAMES,
      timeoutMs: env.PROVIDER_TIMEOUT_MS,
      alfred: {
        baseUrl: env.ALFRED_BASE_URL,
        apiKey: env.ALFRED_API_KEY,
        apiSecret: env.ALFRED_API_SECRET,
        webhookSecret: env.ALFRED_WEBHOOK_SECRET,
        auth:
          env.ALFRED_AUTH === 'stellar'
            ? {
                kind: 'stellar',
                secret: env.ALFRED_STELLAR_SECRET,
                serverKey: env.ALFRED_STELLAR_SERVER_KEY,
                network: env.ALFRED_STELLAR_NETWORK,
                homeDomain: env.ALFRED_STELLAR_HOME_DOMAIN,
              }
            : { kind: 'apikey' },
      },
      payone: {
        baseUrl: env.PAYONE_BASE_URL,
        merchantId: env.PAYONE_MERCHANT_ID,
        authToken: env.PAYONE_AUTH_TOKEN,
        ...(env.PAYONE_STATUS_ALIASES ? { statusAliases: env.PAYONE_STATUS_ALIASES } : {}),
      },
      xprizo: {
        baseUrl: env.XPRIZO_BASE_URL,
        apiKey: env.XPRIZO_API_KEY,
        merchantAccountId: env.XPRIZO_MERCHANT_ACCOUNT_ID,
        webhookToken: {
          current: xprizoTokens[0],
          accepted: xprizoTokens,
        },
        webhookUrlForm: env.XPRIZO_WEBHOOK_URL_FORM,
      },
      bitfinex: { baseUrl: env.BITFINEX_BASE_URL, apiKey: env.BITFINEX_API_KEY, apiSecret: env.BITFINEX_API_SECRET },
    },
  };
  return deepFreeze(config);
}
