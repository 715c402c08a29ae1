import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { encryptionKeys, type PayloadEncryptionKey } from './encryption-keys';

/** The `encoding` metadata of a payload this codec encrypted; anything else passes through untouched. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const LENGTH_BYTES = 4;

/** A payload this process cannot decrypt: its key is not configured, or it was altered or truncated. */
export class PayloadDecryptionError extends Error {
  readonly type = 'PayloadDecryptionError';
}

export class PayloadCodecConfigError extends Error {
  readonly type = 'PayloadCodecConfigError';
}

const text = new TextEncoder();
const fromText = new TextDecoder('utf-8', { fatal: true });

/**
 * The whole payload, metadata included, is sealed: the `encoding` and message type of a value say what kind of
 * personal data it is. Framing: 4-byte big-endian length of the metadata JSON (values base64), the JSON, the data.
 */
function serialize(payload: Payload): Buffer {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) {
    if (value) metadata[key] = Buffer.from(value).toString('base64');
  }
  const head = Buffer.from(text.encode(JSON.stringify(metadata)));
  const length = Buffer.alloc(LENGTH_BYTES);
  length.writeUInt32BE(head.length);
  return Buffer.concat([length, head, payload.data ?? new Uint8Array()]);
}

function deserialize(plain: Buffer): Payload {
  const headLength = plain.readUInt32BE(0);
  const head: unknown = JSON.parse(fromText.decode(plain.subarray(LENGTH_BYTES, LENGTH_BYTES + headLength)));
  if (typeof head !== 'object' || head === null || Array.isArray(head)) {
    throw new PayloadDecryptionError('the decrypted payload has no metadata object');
  }
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(head)) {
    if (typeof value !== 'string') throw new PayloadDecryptionError(`the decrypted metadata ${key} is not a string`);
    metadata[key] = Buffer.from(value, 'base64');
  }
  return { metadata, data: plain.subarray(LENGTH_BYTES + headLength) };
}

/**
 * AES-256-GCM with a fresh random IV per payload (a repeated IV under one GCM key would reveal plaintexts and allow
 * forgeries). New payloads use the first key; old ones name their key, so a rotation only prepends a key and keeps
 * the old ones until no history that needs them is retained. The key id is also the additional authenticated data,
 * so relabelling a payload with another key id fails authentication instead of decrypting under the wrong key.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly active: PayloadEncryptionKey;
  private readonly byId: ReadonlyMap<string, Uint8Array>;

  constructor(keys: readonly PayloadEncryptionKey[]) {
    const [active] = keys;
    if (!active) throw new PayloadCodecConfigError('the payload codec needs at least one encryption key');
    for (const { id, key } of keys) {
      if (key.length !== KEY_BYTES) {
        throw new PayloadCodecConfigError(`encryption key ${id} has ${key.length} bytes; AES-256 needs ${KEY_BYTES}`);
      }
    }
    this.active = active;
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  // The work is synchronous; the executor turns a throw into the rejection callers of a codec expect.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.encrypt(payload))));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.decrypt(payload))));
  }

  private encrypt(payload: Payload): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.active.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(this.active.id, 'utf8'));
    const sealed = Buffer.concat([cipher.update(serialize(payload)), cipher.final()]);
    return {
      metadata: {
        encoding: text.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: text.encode(this.active.id),
      },
      data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    // Histories written before encryption (and the recorded ones in test/histories) must keep replaying.
    if (!encoding || Buffer.from(encoding).toString('utf8') !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    if (!rawId) throw new PayloadDecryptionError(`an encrypted payload has no ${KEY_ID_METADATA} metadata`);
    const id = Buffer.from(rawId).toString('utf8');
    const key = this.byId.get(id);
    if (!key) {
      throw new PayloadDecryptionError(
        `a payload is encrypted with key "${id}", which is not among PAYLOAD_ENCRYPTION_KEYS ` +
          `(configured: ${[...this.byId.keys()].join(', ')})`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError(`the payload under key "${id}" is truncated`);
    const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch (cause) {
      throw new PayloadDecryptionError(`the payload under key "${id}" failed authentication (altered or corrupt)`, {
        cause,
      });
    }
    return deserialize(plain);
  }
}

const codecs = new WeakMap<Config, EncryptionCodec>();

/** One codec per config: the client, the workers and the codec server of a process share it. */
export function payloadCodec(config: Config): EncryptionCodec {
  let codec = codecs.get(config);
  if (!codec) {
    codec = new EncryptionCodec(config.payloadEncryption.keys);
    codecs.set(config, codec);
  }
  return codec;
}

/** What every Temporal client and worker of this project is given. */
export function dataConverter(config: Config): DataConverter {
  return { payloadCodecs: [payloadCodec(config)] };
}

/**
 * A data converter for a service of its own (the published client entry): the same codec as the gateway's and the
 * workers', from keys in PAYLOAD_ENCRYPTION_KEYS's `id:base64key,...` form or already parsed. The workers decrypt
 * what this client sends and it decrypts their results, so it must hold every key their histories were sealed with.
 */
export function invoiceDataConverter(keys: string | readonly PayloadEncryptionKey[]): DataConverter {
  return { payloadCodecs: [new EncryptionCodec(typeof keys === 'string' ? parsePayloadEncryptionKeys(keys) : keys)] };
}

/** `id:base64key,...` as PAYLOAD_ENCRYPTION_KEYS holds it; the error names each bad entry and never its key. */
export function parsePayloadEncryptionKeys(text: string): PayloadEncryptionKey[] {
  const parsed = encryptionKeys.safeParse(text);
  if (!parsed.success) {
    throw new PayloadCodecConfigError(
      `payload encryption keys: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
    );
  }
  return parsed.data;
}

let warned = false;

/** Once per process: data sealed with the published development key is as good as plain text. */
export function warnIfDevelopmentKey(config: Config, logger: Logger): void {
  if (!config.payloadEncryption.developmentKey || warned) return;
  warned = true;
  logger.warn(
    'PAYLOAD_ENCRYPTION_KEYS is unset: workflow payloads are encrypted with the published development key, which ' +
      'protects nothing. Set PAYLOAD_ENCRYPTION_KEYS (required when NODE_ENV=production).',
  );
}
