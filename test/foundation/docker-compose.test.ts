import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { SEARCH_ATTRIBUTES } from '../../src/domain/constants';
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
}

const root = path.resolve(__dirname, '..', '..');
const composeText = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
};
const envExample = readFileSync(path.join(root, '.env.example'), 'utf8');

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}`: compose's interpolations, with `$$` an escaped dollar. */
const INTERPOLATION = /(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;
const SECRET_NAME = /_KEY|_SECRET|_TOKEN|PASSWORD|_PWD|^PAYLOAD_ENCRYPTION_KEYS$/;
/** A variable holding a secret itself; GATEWAY_KEYS_FILE and GATEWAY_KEYS_PATH only say where one lies. */
const isSecret = (name: string) => SECRET_NAME.test(name) && !/_(FILE|PATH)$/.test(name);

describe('docker-compose.yml', () => {
  const { services } = compose;

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

  it('publishes every port on 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => [name, String(port)]),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const [name, port] of published) expect(`${name} ${port}`).toMatch(/ 127\.0\.0\.1:\d+:\d+$/);
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
