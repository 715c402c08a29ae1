import { randomBytes } from 'node:crypto';
import { invoiceWorkflowId, providerEventSignal } from '../../src/workflows/definitions';
import { codecAccess } from '../gateway/codec-access';
import { json, startTestGateway, type TestGateway } from '../gateway/gateway-env';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { leakedFields, personalRequest, readableTexts } from '../support/personal';
import { temporalCli } from '../support/temporal-cli';
import { startTestEnv, testConfig, type TestEnv } from '../support/temporal-env';

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every payload in the CLI's JSON (proto3 JSON: metadata values and data in base64), wherever it sits. */
function payloadsIn(value: unknown, into: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(value)) {
    for (const item of value) payloadsIn(item, into);
  } else if (isRecord(value)) {
    const { metadata, data } = value;
    if (isRecord(metadata) && typeof metadata.encoding === 'string' && typeof data === 'string') {
      const strings = Object.entries(metadata).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      );
      into.push({ metadata: Object.fromEntries(strings), data });
    } else {
      for (const item of Object.values(value)) payloadsIn(item, into);
    }
  }
  return into;
}

const text = (base64: string | undefined): string => Buffer.from(base64 ?? '', 'base64').toString('utf8');
const isSealed = (payload: JsonPayload): boolean => text(payload.metadata.encoding) === 'binary/encrypted';
const newKey = (): string => randomBytes(32).toString('base64');

describe('`temporal workflow show` of a completed invoice', () => {
  const { registry } = fakeRegistry();
  const access = codecAccess();
  // A real key (not the published development key), which a later test rotates out of first place.
  const oldKey = `old-${randomBytes(3).toString('hex')}:${newKey()}`;
  const { request, personal } = personalRequest();
  let env: TestEnv;
  let gateway: TestGateway;
  let shown: string;
  let payloads: JsonPayload[];

  beforeAll(async () => {
    env = await startTestEnv({ providers: registry, env: { PAYLOAD_ENCRYPTION_KEYS: oldKey } });
    gateway = await startTestGateway(env, { providers: registry, ...access.gateway });
    await env.invoices.startInvoice(request);
    await env.invoices
      .handle(request.invoiceId)
      .signal(providerEventSignal, fakeEvent(request, `settle-${request.invoiceId}`, 'settled'));
    expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');
    shown = await temporalCli(
      ['workflow', 'show', '--workflow-id', invoiceWorkflowId(request.invoiceId), '--output', 'json'],
      env.namespace,
    );
    payloads = payloadsIn(JSON.parse(shown));
  });
  const sealed = (): JsonPayload[] => payloads.filter(isSealed);
  afterAll(async () => {
    await gateway?.close();
    await env?.stop();
  });

  const decode = (url: string, headers: Record<string, string>, body: JsonPayload[] = sealed()) =>
    fetch(`${url}/codec/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': env.namespace, ...headers },
      body: JSON.stringify({ payloads: body }),
    });

  /** The decoded payloads hold every personal value of the request: the codec really opened them. */
  const expectEveryPersonalValue = (decoded: JsonPayload[]) =>
    expect(
      leakedFields(
        personal,
        decoded.map((payload) => text(payload.data)),
      ).sort(),
    ).toEqual(Object.keys(personal).sort());

  it('shows none of the personal values, neither in plain text nor base64-decoded', () => {
    // The output is the whole history: the start, the activities the customer data went to, and the completion.
    expect(shown).toContain('WORKFLOW_EXECUTION_STARTED');
    expect(shown).toContain('ACTIVITY_TASK_COMPLETED');
    expect(shown).toContain('WORKFLOW_EXECUTION_COMPLETED');
    // Search attributes and the SDK's markers are plain by design (the server reads them); everything ours is sealed.
    expect(sealed().length).toBeGreaterThan(3);
    expect(leakedFields(personal, [shown, ...readableTexts(JSON.parse(shown))])).toEqual([]);
  });

  it("decodes the same history's payloads through the codec server for an allowed caller, and for no one else", async () => {
    const allowed = await decode(gateway.url, { authorization: `Bearer ${access.allowedToken}` });
    expect(allowed.status).toBe(200);
    const decoded = (await json<{ payloads: JsonPayload[] }>(allowed)).payloads;
    expect(decoded).toHaveLength(sealed().length);
    expectEveryPersonalValue(decoded);

    // The CLI itself, pointed at the codec server with the same credentials, shows them too.
    const viaCli = await temporalCli(
      [
        ...['workflow', 'show', '--workflow-id', invoiceWorkflowId(request.invoiceId), '--output', 'json'],
        ...['--codec-endpoint', `${gateway.url}/codec`, '--codec-auth', `Bearer ${access.allowedToken}`],
      ],
      env.namespace,
    );
    expect(leakedFields(personal, [viaCli, ...readableTexts(JSON.parse(viaCli))]).sort()).toEqual(
      Object.keys(personal).sort(),
    );

    for (const { who, headers, status } of access.refused) {
      const refused = await decode(gateway.url, headers);
      const body = await refused.text();
      expect({ who, status: refused.status }).toEqual({ who, status });
      expect({ who, leaked: leakedFields(personal, [body, ...readableTexts(JSON.parse(body))]) }).toEqual({
        who,
        leaked: [],
      });
    }
  });

  it('still decodes the history after a rotation puts a new key first and keeps the old one second', async () => {
    const rotatedKey = `new-${randomBytes(3).toString('hex')}:${newKey()}`;
    const rotated = await startTestGateway(
      { ...env, config: testConfig({ PAYLOAD_ENCRYPTION_KEYS: `${rotatedKey},${oldKey}` }) },
      { providers: registry, ...access.gateway },
    );
    const newOnly = await startTestGateway(
      { ...env, config: testConfig({ PAYLOAD_ENCRYPTION_KEYS: rotatedKey }) },
      { providers: registry, ...access.gateway },
    );
    try {
      const auth = { authorization: `Bearer ${access.allowedToken}` };
      const oldKeyId = oldKey.split(':')[0];
      expect(sealed().every((payload) => text(payload.metadata['encryption-key-id']) === oldKeyId)).toBe(true);

      const response = await decode(rotated.url, auth);
      expect(response.status).toBe(200);
      const decoded = (await json<{ payloads: JsonPayload[] }>(response)).payloads;
      expectEveryPersonalValue(decoded);

      // The rotation took: what the codec server seals now names the new key...
      const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: 'eyJhIjoxfQ==' };
      const encoded = await fetch(`${rotated.url}/codec/encode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ payloads: [plain] }),
      });
      const [fresh] = (await json<{ payloads: JsonPayload[] }>(encoded)).payloads;
      expect(text(fresh?.metadata['encryption-key-id'])).toBe(rotatedKey.split(':')[0]);
      // ...and it is the old key, kept second, that opens the history: without it the same payloads fail.
      const withoutOld = await decode(newOnly.url, auth);
      expect(withoutOld.status).toBe(422);
      expect(await json(withoutOld)).toMatchObject({ type: 'PayloadDecryptionError' });
    } finally {
      await rotated.close();
      await newOnly.close();
    }
  });
});
