import { createHash, createHmac } from 'node:crypto';
import { sameBytes } from '../same-bytes';
import type { ProviderEvent } from '../../workflows/definitions';
import { ALFRED_REFS } from './adapter';
import { mapEventStatus, parseLegacyDate } from './mapping';
import { EventWebhookSchema, LegacyWebhookSchema, type EventWebhook, type LegacyWebhook } from './schemas';

/**
 * How old a signed delivery may be. alfred signs a webhook once and re-sends the same signature and creation date on
 * every retry ("at least 10 retries with exponential backoff" after any 4xx/5xx; the intervals are not published), so
 * the window must span the whole retry schedule or alfred's own late retries are refused. 24 h: ten doublings from a
 * one-minute first delay reach 17 h, and 24 h is also the horizon Xprizo documents for its callbacks. A replay inside
 * it is harmless: the gateway answers a delivery it has delivered from its memory, and the workflow applies an event
 * id once.
 */
export const ALFRED_RETRY_HORIZON_MS = 24 * 60 * 60_000;
/** How far ahead of our clock a signature may be dated: clock skew, not a window for pre-signed deliveries. */
export const ALFRED_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The newer scheme's signed string is UNCONFIRMED; default guess: `${t}.${rawBody}` (Stripe's shape). Swap it here
 * (or per call) once alfred confirms.
 */
export type SignedString = (timestamp: string, rawBody: string) => string;
export const defaultSignedString: SignedString = (timestamp, rawBody) => `${timestamp}.${rawBody}`;

export type AlfredWebhook =
  | { kind: 'approval_request'; body: LegacyWebhook; signedAt: number }
  | { kind: 'event'; body: EventWebhook; signedAt: number };

export type VerifyResult =
  /** `replayKey` names the signature, which every retry of this delivery repeats: the gateway remembers it. */
  | { ok: true; event: AlfredWebhook; replayKey: string }
  | { ok: false; reason: 'malformed' | 'unsigned' | 'bad_signature' | 'stale' };

export interface VerifyInput {
  rawBody: string;
  headers: Record<string, string | string[] | undefined>;
  /** The shared secret, base64 as alfred's dashboard shows it. Legacy: decoded bytes; newer: the text itself. */
  secret: string;
  now?: number;
  /** How old a signature may be; default ALFRED_RETRY_HORIZON_MS. */
  horizonMs?: number;
  signedString?: SignedString;
}

function header(headers: VerifyInput['headers'], name: string): string | undefined {
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

export function legacySignature(secret: string, dateInvoices: string, invoices: string): string {
  return createHmac('sha256', Buffer.from(secret, 'base64'))
    .update(`${dateInvoices}${invoices}`, 'utf8')
    .digest('base64');
}

export function eventSignature(
  secret: string,
  timestamp: string,
  rawBody: string,
  signedString: SignedString = defaultSignedString,
): string {
  return createHmac('sha256', secret).update(signedString(timestamp, rawBody), 'utf8').digest('hex');
}

/** The `signature` header value for the newer scheme. */
export function eventSignatureHeader(secret: string, rawBody: string, nowMs: number, signedString?: SignedString) {
  const t = String(Math.floor(nowMs / 1000));
  return `t=${t},s=${eventSignature(secret, t, rawBody, signedString)}`;
}

function parseSignatureHeader(value: string): { t: string; s: string } | undefined {
  const parts = Object.fromEntries(
    value.split(',').map((part) => {
      const index = part.indexOf('=');
      return [part.slice(0, index).trim(), part.slice(index + 1).trim()];
    }),
  );
  const t = parts.t;
  const s = parts.s;
  return t && s && /^\d+$/.test(t) && /^[0-9a-f]+$/i.test(s) ? { t, s } : undefined;
}

/** Whether a signature dated `signedAt` is too old to be one of alfred's retries, or dated in our future. */
function stale(signedAt: number, now: number, horizonMs: number): boolean {
  return now - signedAt > horizonMs || signedAt - now > ALFRED_CLOCK_SKEW_MS;
}

/**
 * Verifies either of alfred's webhook schemes. Pure: it refuses forged and stale deliveries; a repeat of a genuine one
 * verifies again with the same `replayKey` and event id, and it is the gateway's memory of what it delivered that
 * keeps a repeat from reaching the invoice twice, since only the gateway knows whether the first was delivered.
 */
export function verifyAlfredWebhook(input: VerifyInput): VerifyResult {
  const now = input.now ?? Date.now();
  const horizon = input.horizonMs ?? ALFRED_RETRY_HORIZON_MS;
  let body: unknown;
  try {
    body = JSON.parse(input.rawBody);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const signatureHeader = header(input.headers, 'signature');
  if (signatureHeader !== undefined) {
    const parsedHeader = parseSignatureHeader(signatureHeader);
    const event = EventWebhookSchema.safeParse(body);
    if (!parsedHeader) return { ok: false, reason: 'unsigned' };
    if (!event.success) return { ok: false, reason: 'malformed' };
    const expected = Buffer.from(
      eventSignature(input.secret, parsedHeader.t, input.rawBody, input.signedString),
      'hex',
    );
    if (!sameBytes(expected, Buffer.from(parsedHeader.s, 'hex'))) return { ok: false, reason: 'bad_signature' };
    const signedAt = Number(parsedHeader.t) * 1000;
    if (stale(signedAt, now, horizon)) return { ok: false, reason: 'stale' };
    return { ok: true, event: { kind: 'event', body: event.data, signedAt }, replayKey: `s:${parsedHeader.s}` };
  } else {
    const legacy = LegacyWebhookSchema.safeParse(body);
    if (!legacy.success) {
      const looksLegacy = typeof body === 'object' && body !== null && 'invoices' in body;
      return { ok: false, reason: looksLegacy ? 'unsigned' : 'malformed' };
    }
    const { invoices, date_invoices, signature_invoices } = legacy.data;
    const expected = Buffer.from(legacySignature(input.secret, date_invoices, invoices), 'base64');
    if (!sameBytes(expected, Buffer.from(signature_invoices, 'base64'))) return { ok: false, reason: 'bad_signature' };
    const signedAt = parseLegacyDate(date_invoices);
    if (signedAt === undefined || stale(signedAt, now, horizon)) return { ok: false, reason: 'stale' };
    return {
      ok: true,
      event: { kind: 'approval_request', body: legacy.data, signedAt },
      replayKey: `l:${signature_invoices}`,
    };
  }
}

function stableId(...parts: string[]): string {
  return `alfred:${createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32)}`;
}

/**
 * What a verified webhook tells the invoice, or undefined when it concerns no invoice (KYC/KYB events, statuses
 * that move nothing). `ref` names alfred's invoice id where the webhook carries it (refs.alfredInvoiceId, which the
 * gateway finds our invoice by), else alfred's transaction id (refs.alfredTransactionId). alfred's webhooks state no
 * amount, so the event carries no `money`. A negative status is believed on the signature alone: only alfred holds
 * the secret it is made with.
 */
export function alfredWebhookToEvent(webhook: AlfredWebhook): ProviderEvent | undefined {
  if (webhook.kind === 'approval_request') {
    const { invoices, date_invoices } = webhook.body;
    return {
      eventId: stableId('approval', invoices, date_invoices),
      provider: 'alfred',
      status: 'approval_requested',
      ref: { key: ALFRED_REFS.invoiceId, value: invoices },
    };
  }
  const { referenceId, eventType, status, metadata } = webhook.body;
  if (eventType !== 'ONRAMP' && eventType !== 'OFFRAMP') return undefined;
  const mapped = mapEventStatus(status);
  if (!mapped || mapped === 'pending') return undefined;
  const invoiceId = typeof metadata.invoiceId === 'string' && metadata.invoiceId ? metadata.invoiceId : undefined;
  const failure = typeof metadata.failureReason === 'string' ? metadata.failureReason.slice(0, 500) : undefined;
  return {
    eventId: stableId(eventType, referenceId, status),
    provider: 'alfred',
    status: mapped,
    ref: invoiceId
      ? { key: ALFRED_REFS.invoiceId, value: invoiceId }
      : { key: ALFRED_REFS.transactionId, value: referenceId },
    ...(failure ? { detail: failure } : {}),
  };
}
