import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * The signature of an outgoing webhook, shared by the worker that signs and the client library that verifies, so the
 * two cannot disagree on the format.
 *
 * `Payorch-Signature: t=<unix seconds>,v1=<hex>,v1=<hex>`: one `v1` per active secret of the endpoint, each an
 * HMAC-SHA256 of `${t}.${rawBody}`. Signing the timestamp with the body bounds how long a captured request can be
 * replayed; one signature per secret lets a receiver keep verifying while it moves from the old secret to the new.
 */
export const SIGNATURE_HEADER = 'Payorch-Signature';
export const EVENT_ID_HEADER = 'Payorch-Event-Id';
export const EVENT_TYPE_HEADER = 'Payorch-Event-Type';
export const SIGNATURE_SCHEME = 'v1';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export type WebhookSignatureFailure =
  'MalformedHeader' | 'TimestampOutsideTolerance' | 'NoMatchingSignature' | 'NoSecrets' | 'InvalidBody';

/** A delivery that must not be trusted; `reason` says why, `type` is the stable token to switch on. */
export class WebhookSignatureError extends Error {
  readonly type = 'WebhookSignatureError';
  constructor(
    readonly reason: WebhookSignatureFailure,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

function hmac(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');
}

/** The header value for `rawBody`, signed with every secret given (newest first by convention). */
export function signWebhook(rawBody: string, secrets: readonly string[], timestampSeconds: number): string {
  if (!secrets.length) throw new WebhookSignatureError('NoSecrets', 'a webhook needs at least one secret to sign');
  return [
    `t=${timestampSeconds}`,
    ...secrets.map((secret) => `${SIGNATURE_SCHEME}=${hmac(secret, timestampSeconds, rawBody)}`),
  ].join(',');
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function parseHeader(header: string): { timestamp: number; signatures: string[] } {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const equals = part.indexOf('=');
    const key = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();
    if (equals < 0) continue;
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    // Other schemes are skipped, not refused: a later scheme can be added beside v1 without breaking receivers.
    if (key === SIGNATURE_SCHEME && HEX_SHA256.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || !signatures.length) {
    throw new WebhookSignatureError('MalformedHeader', `expected ${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex>`);
  }
  return { timestamp, signatures };
}

/** What a delivery's body holds: one event of the tenant's log (see InvoiceEvent), the invoice's state inside. */
export const WebhookEventSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  tenant: z.string(),
  invoiceId: z.string().min(1),
  sequence: z.number().int().positive(),
  position: z.number().int().positive(),
  occurredAt: z.string(),
  data: z.object({ invoice: z.looseObject({ invoiceId: z.string(), status: z.string() }) }),
});
export type WebhookEvent = z.output<typeof WebhookEventSchema>;

/**
 * Checks a delivery as received: `rawBody` exactly as it arrived (a re-serialized body has other bytes), the
 * `Payorch-Signature` header, and the endpoint's secrets (more than one during a rotation). Returns the event, or
 * throws WebhookSignatureError. A receiver should drop an event whose id it has already processed: a delivery whose
 * 2xx was lost is sent again.
 */
export function verifyWebhook(
  rawBody: string | Buffer,
  header: string | string[] | undefined,
  secrets: string | readonly string[],
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  nowSeconds = Math.floor(Date.now() / 1000),
): WebhookEvent {
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  const keys = typeof secrets === 'string' ? [secrets] : secrets;
  if (!keys.length) throw new WebhookSignatureError('NoSecrets', 'no secret to verify the webhook with');
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) throw new WebhookSignatureError('MalformedHeader', `the ${SIGNATURE_HEADER} header is missing`);
  const { timestamp, signatures } = parseHeader(value);
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
    throw new WebhookSignatureError(
      'TimestampOutsideTolerance',
      `the signature's timestamp is more than ${toleranceSeconds} s from now`,
    );
  }
  const matches = keys.some((secret) => {
    const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
    return signatures.some((signature) => timingSafeEqual(expected, Buffer.from(signature, 'hex')));
  });
  if (!matches) throw new WebhookSignatureError('NoMatchingSignature', 'no signature matches any of the secrets');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new WebhookSignatureError('InvalidBody', 'the signed body is not JSON');
  }
  const event = WebhookEventSchema.safeParse(parsed);
  if (!event.success) throw new WebhookSignatureError('InvalidBody', 'the signed body is not an event');
  return event.data;
}
