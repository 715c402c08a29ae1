import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { SEARCH_ATTRIBUTES } from '../../src/domain/constants';
import { COMPOSE_GO_VERSION, composeSpecSchema } from '../support/compose-schema';
import { PRODUCTION_REQUIRED } from '../support/production-env';

interface Service {
  image?: string;
  build?: string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  ports?: string[];
  environment?: Record<string, string | number>;
  deploy?: { replicas?: number };
  secrets?: string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  restart?: string;
  stop_grace_period?: string;
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: string[];
}

const root = path.resolve(__dirname, '..', '..');
const composeText = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const parseCompose = (text: string) =>
  parse(text, { merge: true }) as {
    services: Record<string, Service>;
    secrets?: Record<string, { file?: string }>;
  };
const compose = parseCompose(composeText);
const envExample = readFileSync(path.join(root, '.env.example'), 'utf8');

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}`: compose's interpolations, with `$$` an escaped dollar. */
const INTERPOLATION = /(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;
const SECRET_NAME = /_KEY|_SECRET|_TOKEN|PASSWORD|_PWD|^PAYLOAD_ENCRYPTION_KEYS$/;
/** A variable holding a secret itself; GATEWAY_KEYS_FILE and GATEWAY_KEYS_PATH only say where one lies. */
const isSecret = (name: string) => SECRET_NAME.test(name) && !/_(FILE|PATH)$/.test(name);

/** Go's time.ParseDuration, the form compose reads durations in, for the units a grace period uses. */
function durationMs(value: string | undefined): number {
  const parts = [...(value ?? '').matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (!value || parts.map((part) => part[0]).join('') !== value) throw new Error(`not a duration: ${String(value)}`);
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, [, amount, suffix]) => sum + Number(amount) * (unit[suffix ?? ''] ?? NaN), 0);
}

/** A container path the service mounts `source` (relative to the repo) at, read-only bind mounts included. */
function mountTarget(service: Service | undefined, source: string): string | undefined {
  for (const volume of service?.volumes ?? []) {
    const [from, to] = volume.split(':');
    if (from && to && path.resolve(root, from) === path.resolve(root, source)) return to;
  }
  return undefined;
}

describe('docker-compose.yml', () => {
  const { services } = compose;

  describe(`against the compose specification (compose-go ${COMPOSE_GO_VERSION}'s schema)`, () => {
    // Draft 2020-12 with unevaluatedProperties: a misspelled key anywhere is an error, as `docker compose` reports it.
    // strictTypes off: the schema leaves `type: object` implicit beside `properties` in places, which is valid JSON
    // Schema; every other strict check (unknown keywords and formats) stays on.
    const validate = new Ajv2020({ allErrors: true, strictTypes: false }).compile(composeSpecSchema());
    const errorsOf = (text: string) =>
      validate(parseCompose(text)) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);

    it('validates, and a copy broken in any of three ways does not, naming where', () => {
      expect(errorsOf(composeText)).toEqual([]);
      const broken: Array<[string, string, string, string]> = [
        ['stop_grace_period: 45s', 'stop_grace_periode: 45s', '/services/worker', 'unevaluated properties'],
        [
          'condition: service_completed_successfully',
          'condition: service_completed',
          '/services/temporal/depends_on/temporal-schema/condition',
          'allowed values',
        ],
        ['stop_grace_period: 45s', 'stop_grace_period: 45', '/services/worker/stop_grace_period', 'must be string'],
      ];
      for (const [from, to, where, why] of broken) {
        const copy = composeText.replace(from, to);
        expect(copy).not.toBe(composeText);
        const expected = new RegExp(`^${where} .*${why}`);
        const errors = errorsOf(copy);
        expect({ to, errors, named: errors.some((error) => expected.test(error)) }).toEqual({
          to,
          errors,
          named: true,
        });
      }
    });
  });

  it('runs Temporal on PostgreSQL with its UI, without the retired auto-setup image', () => {
    expect(services.postgresql?.image).toMatch(/^postgres:/);
    expect(services.temporal?.image).toMatch(/^temporalio\/server:/);
    expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services['temporal-schema']?.image).toMatch(/^temporalio\/admin-tools:/);
    for (const service of Object.values(services)) expect(service.image ?? '').not.toMatch(/auto-setup/);
    expect(services.temporal?.ports).toContain('127.0.0.1:7233:7233');
    expect(services['temporal-ui']?.ports).toContain('127.0.0.1:8233:8080');
  });

  it('sets up the schemas, the namespace and every search attribute the workflow upserts', () => {
    const script = (service: string) => {
      const entrypoint = JSON.stringify(services[service]?.entrypoint);
      const file = /\/deploy\/([\w.-]+\.sh)/.exec(entrypoint)?.[1];
      expect(file).toBeDefined();
      return readFileSync(path.join(root, 'deploy', 'temporal', file ?? ''), 'utf8');
    };
    const schema = script('temporal-schema');
    for (const db of ['temporal', 'temporal_visibility']) expect(schema).toContain(db);
    expect(schema).toMatch(/update-schema/);
    const setup = script('temporal-setup');
    expect(setup).toMatch(/namespace create/);
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(setup).toContain(`${name}=${type}`);
  });

  it('builds the app for the worker and the gateway, from files the build produces, and runs no sandboxes', () => {
    const outputs: Record<string, string> = { worker: 'src/worker.ts', gateway: 'src/gateway/main.ts' };
    for (const [name, source] of Object.entries(outputs)) {
      const service = services[name];
      expect(existsSync(path.join(root, source))).toBe(true);
      expect(service?.build).toBe('.');
      expect(JSON.stringify(service?.command)).toContain(source.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js'));
    }
    expect(services.worker?.deploy?.replicas).toBeGreaterThan(1);
    expect(services.gateway?.ports).toContain('127.0.0.1:3000:3000');
    expect(composeText).not.toMatch(/sandbox\/main/);
    expect(readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toMatch(/^FROM node:(22|24)-bookworm-slim/m);
  });

  it('builds an image that bundles the workflows once, runs as a non-root user and leaves health to compose', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const scripts = (
      JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    // The compiled build script writes dist/workflow-bundle.js, where the compiled worker looks (PREBUILT_WORKFLOW_BUNDLE).
    expect(scripts['build:bundle']).toBe('node dist/build-workflow-bundle.js');
    expect(existsSync(path.join(root, 'src', 'build-workflow-bundle.ts'))).toBe(true);
    // Before the prune: bundling needs the worker's webpack, and the dev dependencies are still there for the build.
    expect(dockerfile).toMatch(/^RUN npm run build && npm run build:bundle && npm prune --omit=dev$/m);
    const users = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((match) => match[1]);
    expect(users.at(-1)).toBe('node');
    expect(dockerfile).not.toMatch(/^HEALTHCHECK/m);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
  });

  it("lists in the README's compose table exactly the services the file runs", () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Docker compose'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| service')));
    const listed = [...table.matchAll(/^\| `([\w-]+)`/gm)].map((match) => match[1]);
    expect(listed.sort()).toEqual(Object.keys(services).sort());
  });

  it('publishes every port on 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => [name, String(port)]),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const [name, port] of published) expect(`${name} ${port}`).toMatch(/ 127\.0\.0\.1:\d+:\d+$/);
  });

  it('names no default for any secret anywhere in the file, not only in environment blocks', () => {
    const interpolations = [...composeText.matchAll(INTERPOLATION)];
    const secrets = interpolations.filter(([, name]) => isSecret(name ?? ''));
    expect(secrets.length).toBeGreaterThan(0);
    for (const [text, name, operator, rest] of secrets) {
      // Required (`:?message`), or `:-` with nothing after it; a `-`/`:-` with a value would be a default.
      const allowed = operator === ':?' || (operator === ':-' && rest === '');
      expect({ name, text, allowed }).toEqual({ name, text, allowed: true });
    }
  });

  it('checks the health of every long-running service and restarts it; one-shot setup jobs restart only on failure', () => {
    // A job is what another service waits on to complete; everything else runs until stopped.
    const jobs = new Set(
      Object.values(services).flatMap((service) =>
        Object.entries(Array.isArray(service.depends_on) ? {} : (service.depends_on ?? {}))
          .filter(([, dependency]) => dependency.condition === 'service_completed_successfully')
          .map(([name]) => name),
      ),
    );
    expect([...jobs].sort()).toEqual(['temporal-schema', 'temporal-setup']);
    for (const [name, service] of Object.entries(services)) {
      if (jobs.has(name)) {
        expect(`${name} ${service.restart}`).toMatch(/ on-failure(:\d+)?$/);
        continue;
      }
      expect({ name, restart: service.restart }).toEqual({ name, restart: 'unless-stopped' });
      expect(`${name} ${JSON.stringify(service.healthcheck?.test)}`).toMatch(/^[\w-]+ \["CMD(-SHELL)?",/);
      expect(service.healthcheck?.disable).not.toBe(true);
    }
  });

  it('checks the worker and the gateway on their health routes with node itself, at the ports they listen on', () => {
    const worker = services.worker;
    const gateway = services.gateway;
    const port = (value: string | number | undefined) => Number(value);
    // The slim Node image has neither curl nor wget.
    expect(worker?.healthcheck?.test?.slice(0, 2)).toEqual(['CMD', 'node']);
    expect(gateway?.healthcheck?.test?.slice(0, 2)).toEqual(['CMD', 'node']);
    expect(port(worker?.environment?.WORKER_HEALTH_PORT)).toBeGreaterThan(0);
    expect(JSON.stringify(worker?.healthcheck?.test)).toContain(
      `http://127.0.0.1:${port(worker?.environment?.WORKER_HEALTH_PORT)}/healthz`,
    );
    expect(JSON.stringify(gateway?.healthcheck?.test)).toMatch(
      new RegExp(`http://127\\.0\\.0\\.1:${port(gateway?.environment?.GATEWAY_PORT)}/(healthz|readyz)`),
    );
  });

  it('gives a stopping worker longer than its own shutdown grace, and the gateway time to finish its requests', () => {
    const graceMs = Number(services.worker?.environment?.WORKER_SHUTDOWN_GRACE_MS);
    expect(graceMs).toBeGreaterThan(0);
    // Docker sends SIGKILL when stop_grace_period ends: the worker's own grace must end first, with room to close.
    expect(durationMs(services.worker?.stop_grace_period)).toBeGreaterThanOrEqual(graceMs + 10_000);
    expect(durationMs(services.gateway?.stop_grace_period)).toBeGreaterThan(10_000);
    expect(services.worker?.deploy?.replicas).toBe(2);
  });

  it("has Prometheus scrape the gateway's /metrics and every worker replica's SDK metrics, found by the service name", () => {
    const prometheus = services.prometheus;
    const configPath = 'deploy/prometheus/prometheus.yml';
    expect(mountTarget(prometheus, configPath)).toBe('/etc/prometheus/prometheus.yml');
    expect(prometheus?.ports).toContain('127.0.0.1:9090:9090');
    const config = parse(readFileSync(path.join(root, configPath), 'utf8')) as {
      scrape_configs: Array<{
        job_name: string;
        metrics_path?: string;
        static_configs?: Array<{ targets: string[] }>;
        dns_sd_configs?: Array<{ names: string[]; type?: string; port?: number }>;
      }>;
    };
    const job = (name: string) => config.scrape_configs.find((scrape) => scrape.job_name === name);
    expect(job('gateway')?.metrics_path ?? '/metrics').toBe('/metrics');
    expect(job('gateway')?.static_configs?.flatMap((c) => c.targets)).toEqual([
      `gateway:${services.gateway?.environment?.GATEWAY_PORT}`,
    ]);
    // A static `worker:9464` would reach one replica per scrape; an A lookup of the service name yields them all.
    const bind = String(services.worker?.environment?.TEMPORAL_METRICS_BIND);
    expect(bind).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(job('worker')?.static_configs).toBeUndefined();
    expect(job('worker')?.dns_sd_configs).toEqual([
      expect.objectContaining({ names: ['worker'], type: 'A', port: Number(bind.split(':')[1]) }),
    ]);
  });

  it('has Grafana provisioned with the Prometheus data source and the dashboards folder, its password from .env', () => {
    const grafana = services.grafana;
    expect(grafana?.environment?.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
    expect(grafana?.ports).toContain('127.0.0.1:3001:3000');
    const provisioning = 'deploy/grafana/provisioning';
    expect(mountTarget(grafana, provisioning)).toBe('/etc/grafana/provisioning');
    const read = <T>(file: string) => parse(readFileSync(path.join(root, provisioning, file), 'utf8')) as T;

    const { datasources } = read<{ datasources: Array<{ uid: string; type: string; url: string }> }>(
      'datasources/prometheus.yml',
    );
    expect(datasources).toEqual([
      expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    expect(services.prometheus?.image).toMatch(/^prom\/prometheus:v\d/);

    // The provider reads the folder compose mounts deploy/grafana/dashboards at.
    const { providers } = read<{ providers: Array<{ type: string; options: { path: string } }> }>(
      'dashboards/payment-orchestrator.yml',
    );
    expect(providers).toEqual([
      expect.objectContaining({ type: 'file', options: { path: mountTarget(grafana, 'deploy/grafana/dashboards') } }),
    ]);
  });

  it('has every dashboard in deploy/grafana/dashboards name the provisioned data source, not an import-time input', () => {
    const dir = path.join(root, 'deploy', 'grafana', 'dashboards');
    const dashboards = existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith('.json')) : [];
    for (const file of dashboards) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      const dashboard = JSON.parse(text) as { templating?: { list?: Array<{ name: string; type: string }> } };
      // Provisioning does not resolve `__inputs` (`${DS_PROMETHEUS}`): only the uid or a data-source variable works.
      const variables = new Set(
        (dashboard.templating?.list ?? []).filter((v) => v.type === 'datasource').map((v) => v.name),
      );
      const uids = [...text.matchAll(/"datasource"\s*:\s*\{[^}]*"uid"\s*:\s*"([^"]*)"/g)].map((m) => m[1] ?? '');
      for (const uid of uids) {
        const variable = /^\$\{?(\w+)\}?$/.exec(uid)?.[1];
        expect({ file, uid, ok: uid === 'prometheus' || (variable !== undefined && variables.has(variable)) }).toEqual({
          file,
          uid,
          ok: true,
        });
      }
    }
  });

  it('ships no default secret: each comes from .env, required, or passed through empty for an unused provider', () => {
    const secrets = Object.values(services).flatMap((service) =>
      Object.entries(service.environment ?? {}).filter(([name]) => isSecret(name)),
    );
    expect(secrets.map(([name]) => name)).toEqual(
      expect.arrayContaining(['PAYLOAD_ENCRYPTION_KEYS', 'POSTGRES_PASSWORD', 'ALFRED_API_SECRET']),
    );
    for (const [name, value] of secrets) {
      // The whole value is one interpolation: no literal around it, and either required or defaulting to nothing.
      const required = /^\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}$/.test(String(value));
      const passedThrough = /^\$\{[A-Z_][A-Z0-9_]*:-\}$/.test(String(value));
      expect({ name, value, fromEnvFile: required || passedThrough }).toEqual({ name, value, fromEnvFile: true });
    }
    for (const name of ['PAYLOAD_ENCRYPTION_KEYS', 'POSTGRES_PASSWORD', 'GATEWAY_PUBLIC_URL', 'PROVIDERS']) {
      expect(composeText).toMatch(new RegExp(`\\$\\{${name}:\\?`));
    }
    expect(compose.secrets?.['gateway-keys']?.file).toMatch(/^\$\{GATEWAY_KEYS_PATH:\?/);
    expect(services.gateway?.secrets).toContain('gateway-keys');
    expect(composeText).not.toMatch(/GATEWAY_API_KEYS|change-me/);
  });

  it('has an .env.example naming every variable the compose file reads, with no value filled in for a secret', () => {
    const referenced = new Set([...composeText.matchAll(INTERPOLATION)].map((match) => match[1] ?? ''));
    const example = new Map(
      envExample
        .split('\n')
        .map((line) => /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null)
        .map((match) => [match[1] ?? '', match[2] ?? '']),
    );
    expect([...referenced].filter((name) => !example.has(name))).toEqual([]);
    for (const [name, value] of example) if (isSecret(name)) expect(`${name}=${value}`).toBe(`${name}=`);
  });

  it('gives the app an environment our production config accepts once .env is filled in', () => {
    const filled: Record<string, string> = { ...PRODUCTION_REQUIRED, POSTGRES_PASSWORD: 'unused-here' };
    for (const name of ['worker', 'gateway']) {
      const environment = Object.fromEntries(
        Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [
          key,
          String(value).replace(INTERPOLATION, (_, variable: string) => filled[variable] ?? ''),
        ]),
      );
      // The image sets NODE_ENV=production (Dockerfile).
      const config = loadConfig({ ...environment, NODE_ENV: 'production' });
      expect(config.temporal.address).toBe('temporal:7233');
      expect(config.temporal.namespace).toBe('payments');
      expect(config.providers.enabled).toEqual(['alfred', 'payone', 'xprizo', 'bitfinex']);
    }
  });
});
