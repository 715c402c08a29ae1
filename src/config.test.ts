import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configProblems, PRODUCTION_ENV, PRODUCTION_REQUIRED } from '../test/support/production-env';
import { invoiceRequest } from '../test/support/requests';
import { ConfigError, loadConfig } from './config';
import { InvoiceRequestSchema } from './domain/invoice';
import { createLogger } from './logger';
import { createProviders, PROVIDERS } from './providers';
import { refuseSandboxesInProduction } from './providers/sandbox/kit';

describe('loadConfig', () => {
  it('applies defaults and freezes the result', () => {
    const config = loadConfig({});
    expect(config.temporal.namespace).toBe('payments');
    expect(config.devServer.port).toBe(7233);
    expect(config.devServer.uiPort).toBe(8233);
    expect(config.gateway.port).toBe(3000);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.temporal)).toBe(true);
  });

  it('lists every bad variable with its name and reason', () => {
    let error: unknown;
    try {
      loadConfig({ TEMPORAL_ADDRESS: 'nonsense', TEMPORAL_PORT: '99999', LOG_LEVEL: 'loud' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems.find((p) => p.startsWith('TEMPORAL_ADDRESS:'))).toMatch(/host:port.*"nonsense"/);
    expect(problems.find((p) => p.startsWith('TEMPORAL_PORT:'))).toMatch(/65535/);
    expect(problems.find((p) => p.startsWith('LOG_LEVEL:'))).toBeDefined();
  });

  it("takes a cluster address, TLS paths and an API key for Temporal Cloud under Temporal's standard names", () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_TLS_CLIENT_CERT_PATH: '/certs/client.pem',
      TEMPORAL_TLS_CLIENT_KEY_PATH: '/certs/client.key',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/certs/ca.pem',
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
      TEMPORAL_API_KEY: 'an-api-key',
    });
    expect(config.temporal).toEqual({
      address: 'my-ns.a1b2c.tmprl.cloud:7233',
      namespace: 'my-ns.a1b2c',
      apiKey: 'an-api-key',
      tls: {
        clientCert: { path: '/certs/client.pem' },
        clientKey: { path: '/certs/client.key' },
        serverCACert: { path: '/certs/ca.pem' },
        serverName: 'frontend.internal',
      },
    });
    expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/certs/client.pem' })).toThrow(/set both or neither/);
  });

  it('refuses the old TLS names, naming the standard name to set instead', () => {
    const problems = configProblems({
      TEMPORAL_TLS_CERT_PATH: '/certs/client.pem',
      TEMPORAL_TLS_KEY_PATH: '/certs/client.key',
      TEMPORAL_TLS_CA_PATH: '/certs/ca.pem',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^TEMPORAL_TLS_CERT_PATH: renamed TEMPORAL_TLS_CLIENT_CERT_PATH\b/),
        expect.stringMatching(/^TEMPORAL_TLS_KEY_PATH: renamed TEMPORAL_TLS_CLIENT_KEY_PATH\b/),
        expect.stringMatching(/^TEMPORAL_TLS_CA_PATH: renamed TEMPORAL_TLS_SERVER_CA_CERT_PATH\b/),
        expect.stringMatching(/^LOG_LEVEL:/),
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  it('names the variable to fix when the profile file or profile is wrong', () => {
    expect(configProblems({ TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' })).toEqual([
      'TEMPORAL_CONFIG_FILE: no such file (got "/nonexistent/temporal.toml")',
    ]);
    const file = profileFile(
      '[profile.default]\naddress = "nonsense"\n[profile.cloud]\naddress = "a.tmprl.cloud:7233"\n',
    );
    expect(configProblems({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' })).toEqual([
      expect.stringMatching(/^TEMPORAL_PROFILE: no profile "staging" in .*temporal\.toml \(it has default, cloud\)$/),
    ]);
    expect(configProblems({ TEMPORAL_CONFIG_FILE: file })).toEqual([
      expect.stringMatching(/^TEMPORAL_CONFIG_FILE: address of profile "default": expected host:port/),
    ]);
    expect(configProblems({ TEMPORAL_CONFIG_FILE: profileFile('[profile.default\n') })).toEqual([
      expect.stringMatching(/^TEMPORAL_CONFIG_FILE: .* is not a valid profile file: /),
    ]);
    // `yes` would otherwise read as TLS off.
    expect(configProblems({ TEMPORAL_TLS: 'yes' })).toEqual([expect.stringMatching(/^TEMPORAL_TLS: true or false/)]);
  });

  it('reads the profile file, the variables over it, and never a file the environment does not point at', () => {
    const file = profileFile(
      [
        '[profile.default]',
        'address = "default.example:7233"',
        '[profile.cloud]',
        'address = "cloud.example:7233"',
        'namespace = "cloud-ns"',
        'api_key = "from-file"',
        '[profile.cloud.grpc_meta]',
        'x-tenant = "t1"',
      ].join('\n'),
    );
    expect(loadConfig({ TEMPORAL_CONFIG_FILE: file }).temporal).toEqual({
      address: 'default.example:7233',
      namespace: 'payments',
    });
    const cloud = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud', TEMPORAL_NAMESPACE: 'env-ns' });
    expect(cloud.temporal).toEqual({
      address: 'cloud.example:7233',
      namespace: 'env-ns',
      apiKey: 'from-file',
      grpcMeta: { 'x-tenant': 't1' },
    });
    // A test's explicit environment has no HOME, so no user's ~/.config/temporalio/temporal.toml leaks in.
    expect(loadConfig({}).temporal).toEqual({ address: undefined, namespace: 'payments' });
  });

  it('turns metrics, the worker health port and tracing on only when their variables are set', () => {
    const off = loadConfig({});
    expect(off.telemetry).toEqual({});
    expect(off.worker).toMatchObject({ healthPort: undefined, shutdownGraceMs: 30_000 });
    const on = loadConfig({
      TEMPORAL_METRICS_BIND: '0.0.0.0:9464',
      WORKER_HEALTH_PORT: '8081',
      WORKER_SHUTDOWN_GRACE_MS: '45000',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318/',
    });
    expect(on.telemetry).toEqual({
      temporalMetricsBind: '0.0.0.0:9464',
      otlpTracesUrl: 'http://otel-collector:4318/v1/traces',
    });
    expect(on.worker).toMatchObject({ healthPort: 8081, shutdownGraceMs: 45_000 });
    // The signal-specific variable is the whole URL, as OpenTelemetry's exporters read it.
    const traces = 'http://tempo:4318/custom/traces';
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: traces }).telemetry
        .otlpTracesUrl,
    ).toBe(traces);
    expect(() => loadConfig({ TEMPORAL_METRICS_BIND: '9464' })).toThrow(/TEMPORAL_METRICS_BIND: expected host:port/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ TEMPORAL_ADDRESS: '', GATEWAY_PORT: '' }).temporal.address).toBeUndefined();
  });
});

describe('loadConfig in production', () => {
  const REQUIRED = PRODUCTION_REQUIRED;
  const complete = PRODUCTION_ENV;
  const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');

  function without(...names: string[]): NodeJS.ProcessEnv {
    return Object.fromEntries(Object.entries(complete).filter(([name]) => !names.includes(name)));
  }

  it('loads a complete production environment, serving the providers it names', () => {
    const config = loadConfig(complete);
    expect(config.env).toBe('production');
    expect(config.providers.enabled).toEqual(['alfred', 'payone', 'xprizo', 'bitfinex']);
    expect(config.payloadEncryption.developmentKey).toBe(false);
  });

  it.each(Object.keys(REQUIRED))('refuses production without %s, naming it', (name) => {
    const problems = configProblems(without(name));
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${name}: required when NODE_ENV=production`))]);
  });

  it('names every missing variable in one error, one line each, and echoes no secret', () => {
    let error: unknown;
    try {
      loadConfig({ NODE_ENV: 'production', PROVIDERS: REQUIRED.PROVIDERS, ALFRED_API_SECRET: 'do-not-echo-me' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    const missing = Object.keys(REQUIRED).filter((name) => name !== 'PROVIDERS' && name !== 'ALFRED_API_SECRET');
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([...missing].sort());
    for (const name of missing) expect(message).toMatch(new RegExp(`^  - ${name}: `, 'm'));
    expect(message).not.toContain('do-not-echo-me');
  });

  it('requires only the providers PROVIDERS names', () => {
    const bitfinexOnly = Object.fromEntries(
      Object.entries(complete).filter(([name]) => !/^(ALFRED|PAYONE|XPRIZO)_/.test(name)),
    );
    const config = loadConfig({ ...bitfinexOnly, PROVIDERS: 'bitfinex' });
    expect(config.providers.enabled).toEqual(['bitfinex']);
    expect(configProblems({ ...bitfinexOnly, PROVIDERS: 'bitfinex,payone' })).toEqual([
      expect.stringMatching(/^PAYONE_BASE_URL: required/),
      expect.stringMatching(/^PAYONE_MERCHANT_ID: required/),
      expect.stringMatching(/^PAYONE_AUTH_TOKEN: required/),
    ]);
    expect(configProblems({ ...complete, PROVIDERS: ' , ' })).toEqual([expect.stringMatching(/^PROVIDERS: names no/)]);
  });

  it('refuses an unknown provider name anywhere, and serves all four by default outside production', () => {
    expect(loadConfig({}).providers.enabled).toEqual(['alfred', 'payone', 'xprizo', 'bitfinex']);
    expect(configProblems({ PROVIDERS: 'alfred,paypal' })).toEqual([
      expect.stringMatching(/^PROVIDERS: unknown provider "paypal"/),
    ]);
  });

  it('refuses the local sandbox and the published development key', () => {
    const problems = configProblems({
      ...complete,
      ALFRED_BASE_URL: 'http://127.0.0.1:4010/alfred',
      BITFINEX_BASE_URL: 'http://localhost:4010/bitfinex',
      PAYLOAD_ENCRYPTION_KEYS: `k2:${key(2)},dev:cGF5bWVudC1vcmNoZXN0cmF0b3ItZGV2LWtleS0wMDE=`,
    });
    expect(problems).toEqual([
      expect.stringMatching(/^ALFRED_BASE_URL: points at the local provider sandbox/),
      expect.stringMatching(/^BITFINEX_BASE_URL: points at the local provider sandbox/),
      expect.stringMatching(/^PAYLOAD_ENCRYPTION_KEYS: key id "dev" is the published development key/),
    ]);
    // Another port on this machine is not the sandbox (an egress proxy, say), and development keeps its fallbacks.
    expect(loadConfig({ ...complete, ALFRED_BASE_URL: 'http://127.0.0.1:8443/alfred' }).env).toBe('production');
    expect(loadConfig({ NODE_ENV: 'development', ALFRED_BASE_URL: 'http://127.0.0.1:4010/alfred' }).env).toBe(
      'development',
    );
  });
});

describe('provider clients in production', () => {
  const logger = createLogger({ level: 'silent' });
  const bitfinexOnly = loadConfig({
    NODE_ENV: 'production',
    PROVIDERS: 'bitfinex',
    STORE_DATABASE_URL: 'postgres://payorch@db.example:5432/payment_orchestrator',
    PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    GATEWAY_PUBLIC_URL: 'https://payments.example.com',
    GATEWAY_KEYS_FILE: '/run/secrets/gateway-keys',
    BITFINEX_BASE_URL: 'https://api.bitfinex.com',
    BITFINEX_API_KEY: 'bitfinex-key-value',
    BITFINEX_API_SECRET: 'bitfinex-secret-value',
  });

  it('creates only the providers PROVIDERS names; the others refuse every step as retryable', async () => {
    const registry = createProviders(bitfinexOnly, logger);
    const invoice = InvoiceRequestSchema.parse(invoiceRequest({ provider: 'alfred' }));
    await expect(registry.alfred.submit({ invoice, refs: {}, idempotencyKey: 'k' })).rejects.toMatchObject({
      message: 'alfred is not configured here (PROVIDERS)',
      nonRetryable: false,
    });
  });

  it('never falls back to a sandbox URL or published credentials, which development still does', () => {
    expect(() => PROVIDERS.alfred.create({ config: bitfinexOnly, logger })).toThrow(
      /alfred baseUrl: not configured, and production has no sandbox fallback/,
    );
    expect(() => PROVIDERS.payone.create({ config: bitfinexOnly, logger })).toThrow(ConfigError);
    expect(() => PROVIDERS.xprizo.create({ config: bitfinexOnly, logger })).toThrow(ConfigError);
    expect(() => PROVIDERS.alfred.create({ config: loadConfig({ NODE_ENV: 'test' }), logger })).not.toThrow();
  });

  it('refuses to run provider sandboxes', () => {
    expect(() => refuseSandboxesInProduction(bitfinexOnly)).toThrow(/sandboxes: refused when NODE_ENV=production/);
    expect(() => refuseSandboxesInProduction(loadConfig({}))).not.toThrow();
  });
});

function profileFile(toml: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'payorch-profile-')), 'temporal.toml');
  writeFileSync(file, toml);
  return file;
}
