import { DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN, loadConfig } from '../../config';
import { configProblems } from '../../../test/support/production-env';
import { acceptedToken } from '../../gateway/webhooks';
import { xprizoWebhookUrl } from './index';

const A = 'a'.repeat(16) + '0123456789abcdef0123';
const B = 'b'.repeat(16) + '0123456789abcdef0123';
/** Production serving Xprizo alone, everything set but the webhook token. */
const PRODUCTION = {
  NODE_ENV: 'production',
  PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  PROVIDERS: 'xprizo',
  STORE_DATABASE_URL: 'postgres://payorch@db.example:5432/payment_orchestrator',
  GATEWAY_PUBLIC_URL: 'https://pay.example.com',
  GATEWAY_KEYS_FILE: '/run/secrets/gateway-keys',
  XPRIZO_BASE_URL: 'https://api.xprizo.com/api',
  XPRIZO_API_KEY: 'xprizo-key-value',
  XPRIZO_MERCHANT_ACCOUNT_ID: '12345',
};

describe('XPRIZO_WEBHOOK_TOKEN', () => {
  it('registers the first token and accepts every listed one', () => {
    const config = loadConfig({ XPRIZO_WEBHOOK_TOKEN: ` ${A} , ${B}`, GATEWAY_PUBLIC_URL: 'https://pay.example.com' });
    expect(config.providers.xprizo.webhookToken).toEqual({ current: A, accepted: [A, B] });
    expect(xprizoWebhookUrl(config, 'payment')).toBe(`https://pay.example.com/webhooks/xprizo/${A}/payment`);
    expect(acceptedToken(A, [A, B])).toBe(true);
    expect(acceptedToken(B, [A, B])).toBe(true);
    expect(acceptedToken(`${A}x`, [A, B])).toBe(false);
    expect(acceptedToken(A.slice(1), [A, B])).toBe(false);
    expect(acceptedToken(undefined, [A, B])).toBe(false);
    expect(acceptedToken(A, [])).toBe(false);
  });

  it('refuses short or path-unsafe tokens without repeating them', () => {
    const found = configProblems({ XPRIZO_WEBHOOK_TOKEN: `${A},short-secret,${'c'.repeat(40)}/x` });
    expect(found).toHaveLength(2);
    expect(found.every((problem) => problem.startsWith('XPRIZO_WEBHOOK_TOKEN:'))).toBe(true);
    expect(found.join('\n')).not.toMatch(/short-secret|cccc|aaaa/);
  });

  it('stands in a published token outside production only; production with Xprizo must set one', () => {
    expect(loadConfig({}).providers.xprizo.webhookToken.accepted).toEqual([DEVELOPMENT_XPRIZO_WEBHOOK_TOKEN]);
    expect(configProblems(PRODUCTION)).toEqual([
      expect.stringMatching(/^XPRIZO_WEBHOOK_TOKEN: required when NODE_ENV=production/) as unknown,
    ]);
    // Production never accepts the published token: serving no Xprizo, it has no token and so nothing passes.
    const withoutXprizo = loadConfig({
      ...PRODUCTION,
      PROVIDERS: 'bitfinex',
      BITFINEX_BASE_URL: 'https://api.bitfinex.com',
      BITFINEX_API_KEY: 'bitfinex-key-value',
      BITFINEX_API_SECRET: 'bitfinex-secret-value',
    });
    expect(withoutXprizo.providers.xprizo.webhookToken).toEqual({ current: undefined, accepted: [] });
    expect(xprizoWebhookUrl(withoutXprizo, 'approval')).toBeUndefined();
    const configured = loadConfig({ ...PRODUCTION, XPRIZO_BASE_URL: 'https://x.example/api', XPRIZO_WEBHOOK_TOKEN: A });
    expect(configured.providers.xprizo.webhookToken.accepted).toEqual([A]);
  });
});
