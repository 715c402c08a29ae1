import { ConfigError, loadConfig } from './config';

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

  it('takes a cluster address, TLS paths and an API key for Temporal Cloud', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_TLS_CERT_PATH: '/certs/client.pem',
      TEMPORAL_TLS_KEY_PATH: '/certs/client.key',
    });
    expect(config.temporal).toMatchObject({
      address: 'my-ns.a1b2c.tmprl.cloud:7233',
      namespace: 'my-ns.a1b2c',
      tls: { certPath: '/certs/client.pem', keyPath: '/certs/client.key' },
    });
    expect(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: '/certs/client.pem' })).toThrow(/set both or neither/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ TEMPORAL_ADDRESS: '', GATEWAY_PORT: '' }).temporal.address).toBeUndefined();
  });
});
