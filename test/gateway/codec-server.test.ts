import { randomBytes } from 'node:crypto';
import { SAMPLE_CUSTOMER } from '../../src/dev/samples';
import { buildGateway } from '../../src/gateway/app';
import type { Problem } from '../../src/gateway/problem';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { startTestEnv, testConfig, type TestEnv } from '../support/temporal-env';
import { TEST_KEYS, testAccess } from '../support/access';
import { API_KEY, json, startTestGateway, type TestGateway } from './gateway-env';

/** An operator's key: its principal holds `admin`, which includes decoding payloads. */
const CODEC_KEY = TEST_KEYS.operator;
const UI_ORIGIN = 'http://localhost:8233';

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

const text = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

describe('the codec server', () => {
  const { registry } = fakeRegistry();
  let env: TestEnv;
  let gateway: TestGateway;
  /** The encrypted input of a real invoice, as the Temporal UI reads it from the history (proto3 JSON). */
  let sealedInput: JsonPayload;

  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
    gateway = await startTestGateway(env, { providers: registry });
    const request = invoiceRequest();
    await env.invoices.startInvoice(request);
    const history = await env.invoices.handle(request.invoiceId).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    sealedInput = {
      metadata: Object.fromEntries(
        Object.entries(payload?.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString('base64')]),
      ),
      data: Buffer.from(payload?.data ?? []).toString('base64'),
    };
  });
  afterAll(async () => {
    await gateway?.close();
    await env?.stop();
  });

  const codecCall = (action: string, headers: Record<string, string>, payloads: JsonPayload[] = [sealedInput]) =>
    fetch(`${gateway.url}/codec/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': env.namespace, ...headers },
      body: JSON.stringify({ payloads }),
    });

  it('decodes a history payload for a caller with a codec key, with CORS for the UI', async () => {
    expect(text(sealedInput.metadata.encoding)).toBe('binary/encrypted');
    expect(text(sealedInput.data)).not.toContain(SAMPLE_CUSTOMER.email);
    const response = await codecCall('decode', { authorization: `Bearer ${CODEC_KEY}`, origin: UI_ORIGIN });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await json<{ payloads: JsonPayload[] }>(response);
    expect(body.payloads).toHaveLength(1);
    expect(text(body.payloads[0]?.metadata.encoding)).toBe('json/plain');
    expect(JSON.parse(text(body.payloads[0]?.data))).toMatchObject({ request: { customer: SAMPLE_CUSTOMER } });
  });

  it('encodes for a caller with a codec key, and the result decodes back', async () => {
    const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: 'eyJhIjoxfQ==' };
    const auth = { authorization: `Bearer ${CODEC_KEY}` };
    const encoded = await json<{ payloads: JsonPayload[] }>(await codecCall('encode', auth, [plain]));
    expect(text(encoded.payloads[0]?.metadata.encoding)).toBe('binary/encrypted');
    const decoded = await json<{ payloads: JsonPayload[] }>(await codecCall('decode', auth, encoded.payloads));
    expect(decoded.payloads).toEqual([plain]);
  });

  it('refuses an unknown key (401) and a service API key (403), as problem+json', async () => {
    // Without a key only because these payloads are sealed with the published development key (see the last test).
    expect((await codecCall('decode', { origin: UI_ORIGIN })).status).toBe(200);
    const anonymous = await codecCall('decode', { origin: UI_ORIGIN, authorization: 'Bearer not-a-key' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    // The browser must be able to read the refusal, or the UI reports a network error.
    expect(anonymous.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(await json<Problem>(anonymous)).toMatchObject({ type: 'Unauthorized', status: 401 });

    const service = await codecCall('decode', { authorization: `Bearer ${API_KEY}` });
    expect(service.status).toBe(403);
    expect(await json<Problem>(service)).toMatchObject({ type: 'Forbidden', status: 403 });
    expect((await codecCall('encode', { authorization: 'Bearer not-a-key' })).status).toBe(401);
  });

  it('answers the UI origin preflight with the headers the UI sends, and no other origin', async () => {
    const preflight = await fetch(`${gateway.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));

    const elsewhere = await fetch(`${gateway.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
    const refused = await codecCall('decode', { authorization: `Bearer ${CODEC_KEY}`, origin: 'https://evil.example' });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('rejects malformed bodies with field paths and undecryptable payloads with a stable type', async () => {
    const auth = { authorization: `Bearer ${CODEC_KEY}` };
    const malformed = await codecCall('decode', auth, [{ metadata: { encoding: '***' }, data: '' }]);
    expect(malformed.status).toBe(400);
    expect((await json<Problem>(malformed)).errors?.[0]?.path).toBe('payloads.0.metadata.encoding');
    const tampered = { ...sealedInput, data: Buffer.from(randomBytes(64)).toString('base64') };
    const failed = await codecCall('decode', auth, [tampered]);
    expect(failed.status).toBe(422);
    expect(await json<Problem>(failed)).toMatchObject({ type: 'PayloadDecryptionError' });
  });

  it('with real keys, decrypts for no caller without a key and refuses a service key', async () => {
    const config = testConfig({ PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` });
    const app = buildGateway({
      invoices: env.invoices,
      providers: registry,
      config,
      logger: env.logger,
      access: testAccess(),
      temporalHealth: () => Promise.resolve(true),
      webhooks: {},
    });
    const decode = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: { 'content-type': 'application/json', ...headers },
        payload: JSON.stringify({ payloads: [] }),
      });
    expect((await decode({})).statusCode).toBe(401);
    expect((await decode({ authorization: `Bearer ${API_KEY}` })).statusCode).toBe(403);
    expect((await decode({ authorization: `Bearer ${CODEC_KEY}` })).statusCode).toBe(200);
    await app.close();
  });
});
