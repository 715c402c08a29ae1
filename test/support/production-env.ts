import { ConfigError, loadConfig } from '../../src/config';

/** A key that is not the published development key: 32 bytes of one value. */
const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');

/**
 * Every variable production requires when all four providers are served, with values that parse: the complete
 * production environment tests take one variable away from at a time. None of these values is a real credential.
 */
export const PRODUCTION_REQUIRED: Readonly<Record<string, string>> = {
  PROVIDERS: 'alfred,payone,xprizo,bitfinex',
  PAYLOAD_ENCRYPTION_KEYS: `k1:${key(1)}`,
  STORE_DATABASE_URL: 'postgres://payorch:store-password-value@db.example:5432/payment_orchestrator',
  GATEWAY_PUBLIC_URL: 'https://payments.example.com',
  GATEWAY_KEYS_FILE: '/run/secrets/gateway-keys',
  ALFRED_BASE_URL: 'https://api.alfred.example/api/v1',
  ALFRED_API_KEY: 'alfred-key-value',
  ALFRED_API_SECRET: 'alfred-secret-value',
  ALFRED_WEBHOOK_SECRET: 'alfred-webhook-secret-value',
  PAYONE_BASE_URL: 'https://smartlink.payone.example',
  PAYONE_MERCHANT_ID: 'merchant-4711',
  PAYONE_AUTH_TOKEN: 'payone-token-value',
  XPRIZO_BASE_URL: 'https://api.xprizo.example',
  XPRIZO_API_KEY: 'xprizo-key-value',
  XPRIZO_MERCHANT_ACCOUNT_ID: '12345',
  XPRIZO_WEBHOOK_TOKEN: 'xprizo-webhook-token-value-0123456789abcdef',
  BITFINEX_BASE_URL: 'https://api.bitfinex.com',
  BITFINEX_API_KEY: 'bitfinex-key-value',
  BITFINEX_API_SECRET: 'bitfinex-secret-value',
};

export const PRODUCTION_ENV: Readonly<Record<string, string>> = { NODE_ENV: 'production', ...PRODUCTION_REQUIRED };

/** What loadConfig refuses in `env`, one line per problem; none when it loads. */
export function configProblems(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
