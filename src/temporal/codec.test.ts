import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { loadConfig } from '../config';
import { configProblems } from '../../test/support/production-env';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  invoiceDataConverter,
  KEY_ID_METADATA,
  parsePayloadEncryptionKeys,
  PayloadCodecConfigError,
  payloadCodec,
  PayloadDecryptionError,
} from './codec';

const key = (id: string) => ({ id, key: randomBytes(32) });
const utf8 = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const customer = { email: 'ada@example.com', phone: '+5491100000000', street: 'Av. Corrientes 1234' };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('the payload codec', () => {
  it('round-trips a payload, metadata included, and leaves no plain text behind', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const plain = defaultPayloadConverter.toPayload(customer);
    const [sealed] = await codec.encode([plain]);
    expect(utf8(sealed?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(utf8(sealed?.metadata?.[KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(sealed?.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA]);
    expect(utf8(sealed?.data)).not.toContain('ada@example.com');
    const [opened] = await codec.decode([sealed as Payload]);
    expect(utf8(opened?.metadata?.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(opened as Payload)).toEqual(customer);
  });

  it('uses a fresh IV for every payload, so equal values never look equal', async () => {
    const codec = new EncryptionCodec([key('k1')]);
    const plain = defaultPayloadConverter.toPayload(customer);
    const sealed = await codec.encode([plain, plain, plain]);
    const ivs = new Set(
      sealed.map((payload) =>
        Buffer.from(payload.data ?? [])
          .subarray(0, 12)
          .toString('hex'),
      ),
    );
    expect(ivs.size).toBe(3);
    expect(new Set(sealed.map((payload) => utf8(payload.data))).size).toBe(3);
  });

  it('refuses a payload whose ciphertext, tag or key id was altered', async () => {
    const codec = new EncryptionCodec([key('k1'), key('k2')]);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(customer)]);
    const data = Buffer.from(sealed?.data ?? []);
    for (const index of [12, data.length - 1]) {
      const tampered = Buffer.from(data);
      tampered[index] = (tampered[index] ?? 0) ^ 1;
      const error = await rejection(codec.decode([{ ...sealed, data: tampered }]));
      expect(error).toBeInstanceOf(PayloadDecryptionError);
      expect(String(error)).toMatch(/failed authentication/);
    }
    const relabelled = { ...sealed, metadata: { ...sealed?.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    expect(await rejection(codec.decode([relabelled]))).toBeInstanceOf(PayloadDecryptionError);
    const truncated = { ...sealed, data: data.subarray(0, 20) };
    expect(String(await rejection(codec.decode([truncated])))).toMatch(/truncated/);
  });

  it('decrypts payloads of a rotated-out key once a new key is put first', async () => {
    const old = key('2026-01');
    const [sealedBefore] = await new EncryptionCodec([old]).encode([defaultPayloadConverter.toPayload(customer)]);
    const rotated = new EncryptionCodec([key('2026-07'), old]);
    expect(
      defaultPayloadConverter.fromPayload((await rotated.decode([sealedBefore as Payload]))[0] as Payload),
    ).toEqual(customer);
    const [sealedAfter] = await rotated.encode([defaultPayloadConverter.toPayload(customer)]);
    expect(utf8(sealedAfter?.metadata?.[KEY_ID_METADATA])).toBe('2026-07');
  });

  it('names an unknown key id in a clear error', async () => {
    const [sealed] = await new EncryptionCodec([key('gone')]).encode([defaultPayloadConverter.toPayload(customer)]);
    const error = await rejection(new EncryptionCodec([key('k1')]).decode([sealed as Payload]));
    expect(error).toBeInstanceOf(PayloadDecryptionError);
    expect((error as PayloadDecryptionError).type).toBe('PayloadDecryptionError');
    expect(String(error)).toMatch(/key "gone", which is not among PAYLOAD_ENCRYPTION_KEYS \(configured: k1\)/);
  });

  it('passes payloads that were never encrypted through unchanged', async () => {
    const plain = defaultPayloadConverter.toPayload(customer);
    const [decoded] = await new EncryptionCodec([key('k1')]).decode([plain]);
    expect(decoded).toBe(plain);
  });
});

describe('PAYLOAD_ENCRYPTION_KEYS', () => {
  const b64 = (bytes: number) => randomBytes(bytes).toString('base64');

  it('takes several id:key pairs, the first active', () => {
    const config = loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `new:${b64(32)}, old:${b64(32)}` });
    expect(config.payloadEncryption.keys.map((k) => k.id)).toEqual(['new', 'old']);
    expect(config.payloadEncryption.developmentKey).toBe(false);
  });

  it('falls back to the published development key outside production, and requires keys in production', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).payloadEncryption).toMatchObject({ developmentKey: true });
    // Production names every other missing variable in the same error; this test weighs only the keys.
    expect(configProblems({ NODE_ENV: 'production' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^PAYLOAD_ENCRYPTION_KEYS: required when NODE_ENV=production/)]),
    );
  });

  it('reports a short key, bad base64, a missing id and a duplicate by entry, without echoing key material', () => {
    const short = b64(16);
    const found = configProblems({ PAYLOAD_ENCRYPTION_KEYS: `a:${short},b:not*base64,${b64(32)},a:${b64(32)}` });
    expect(found).toEqual([
      expect.stringMatching(
        /^PAYLOAD_ENCRYPTION_KEYS: entry 1 \(key id "a"\): the key must be exactly 32 bytes, got 16/,
      ),
      expect.stringMatching(/^PAYLOAD_ENCRYPTION_KEYS: entry 2 \(key id "b"\): the key is not base64/),
      expect.stringMatching(/^PAYLOAD_ENCRYPTION_KEYS: entry 3: expected id:base64key/),
      expect.stringMatching(/^PAYLOAD_ENCRYPTION_KEYS: entry 4: key id "a" appears twice/),
    ]);
    expect(found.join('\n')).not.toContain(short);
  });
});

describe("the client entry's data converter", () => {
  it('reads PAYLOAD_ENCRYPTION_KEYS as the workers do, so what it seals their codec opens', async () => {
    const material = randomBytes(32).toString('base64');
    const converter = invoiceDataConverter(`svc:${material}`);
    const [sealed] = (await converter.payloadCodecs?.[0]?.encode([defaultPayloadConverter.toPayload(customer)])) ?? [];
    expect(utf8(sealed?.metadata?.[KEY_ID_METADATA])).toBe('svc');
    const workers = payloadCodec(loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `svc:${material}` }));
    const [opened] = await workers.decode([sealed as Payload]);
    expect(defaultPayloadConverter.fromPayload(opened as Payload)).toEqual(customer);
  });

  it('refuses bad keys with a typed error that names the entry and never the key', () => {
    const short = Buffer.from('too-short-to-be-a-key').toString('base64');
    const refusal = (() => {
      try {
        parsePayloadEncryptionKeys(`a:${short}`);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(PayloadCodecConfigError);
    expect((refusal as PayloadCodecConfigError).type).toBe('PayloadCodecConfigError');
    expect((refusal as Error).message).toMatch(/entry 1 \(key id "a"\): the key must be exactly 32 bytes/);
    expect((refusal as Error).message).not.toContain(short);
  });
});
