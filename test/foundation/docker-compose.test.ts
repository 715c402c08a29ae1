import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { SEARCH_ATTRIBUTES } from '../../src/domain/constants';

interface Service {
  image?: string;
  build?: string;
  command?: string[] | string;
  ports?: string[];
  environment?: Record<string, string | number>;
  deploy?: { replicas?: number };
}

const root = path.resolve(__dirname, '..', '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};

describe('docker-compose.yml', () => {
  const { services } = compose;

  it('runs Temporal on PostgreSQL with its UI', () => {
    expect(services.postgresql?.image).toMatch(/^postgres:/);
    expect(services.temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(services.temporal?.ports).toContain('7233:7233');
    expect(services['temporal-ui']?.ports).toContain('8233:8080');
  });

  it('registers every search attribute the workflow upserts', () => {
    const setup = JSON.stringify(services['temporal-setup']?.command);
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(setup).toContain(`${name}=${type}`);
  });

  it('builds the app for the worker, gateway and sandboxes, from files the build produces', () => {
    const outputs: Record<string, string> = {
      worker: 'src/worker.ts',
      gateway: 'src/gateway/main.ts',
      sandboxes: 'src/providers/sandbox/main.ts',
    };
    for (const [name, source] of Object.entries(outputs)) {
      const service = services[name];
      expect(existsSync(path.join(root, source))).toBe(true);
      expect(service?.build).toBe('.');
      expect(JSON.stringify(service?.command)).toContain(source.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js'));
    }
    expect(services.worker?.deploy?.replicas).toBeGreaterThan(1);
    expect(services.gateway?.ports).toContain('3000:3000');
  });

  it('gives the app an environment our config accepts', () => {
    for (const name of ['worker', 'gateway', 'sandboxes']) {
      const environment = Object.fromEntries(
        Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [
          key,
          String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/, '$1'),
        ]),
      );
      const config = loadConfig(environment);
      expect(config.temporal.address).toBe('temporal:7233');
      expect(config.temporal.namespace).toBe('payments');
    }
  });
});
