import { createHmac } from 'node:crypto';
import {
  ALFRED_RETRY_HORIZON_MS,
  alfredWebhookToEvent,
  eventSignatureHeader,
  legacySignature,
  verifyAlfredWebhook,
  type SignedString,
} from './webhook';
import { ALFRED_REFS } from './adapter';
import { formatLegacyDate } from './mapping';

const secret = Buffer.from('a shared secret of some length').toString('base64');
const now = Date.parse('2024-05-01T12:00:00.000Z');

function legacyBody(date: string, invoice = 'd9b3146b-aaaa-bbbb-cccc-000000000001', signWith = secret) {
  return JSON.stringify({
    invoices: invoice,
    date_invoices: date,
    signature_invoices: legacySignature(signWith, date, invoice),
  });
}

function eventBody(status = 'COMPLETED') {
  return JSON.stringify({ referenceId: 'tx-1', eventType: 'OFFRAMP', status, metadata: { invoiceId: 'inv-alfred-1' } });
}

describe('alfred legacy webhook signature', () => {
  it('matches a signature computed by hand: HMAC-SHA256(base64-decoded secret, date + invoice), base64', () => {
    // Independent of legacySignature: key bytes, message and encoding spelled out.
    const expected = createHmac('sha256', Buffer.from('a shared secret of some length'))
      .update('2023-09-25 13:48:20.890-0400d9b3146b')
      .digest('base64');
    expect(legacySignature(secret, '2023-09-25 13:48:20.890-0400', 'd9b3146b')).toBe(expected);
  });

  it('accepts a valid one and maps it to approval_requested with alfred invoice id', () => {
    const result = verifyAlfredWebhook({ rawBody: legacyBody(formatLegacyDate(now - 1000)), headers: {}, secret, now });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const event = alfredWebhookToEvent(result.event);
    expect(event).toMatchObject({
      provider: 'alfred',
      status: 'approval_requested',
      ref: { key: ALFRED_REFS.invoiceId, value: 'd9b3146b-aaaa-bbbb-cccc-000000000001' },
    });
    expect(event).not.toHaveProperty('providerRef');
    expect(event).not.toHaveProperty('money');
    // The same webhook delivered twice keeps its id, so the workflow applies it once.
    const again = verifyAlfredWebhook({ rawBody: legacyBody(formatLegacyDate(now - 1000)), headers: {}, secret, now });
    expect(again.ok && alfredWebhookToEvent(again.event)?.eventId).toBe(event?.eventId);
  });

  it('refuses a tampered invoice id, a wrong secret and a date older than the retry horizon', () => {
    const date = formatLegacyDate(now);
    const tampered = JSON.parse(legacyBody(date)) as Record<string, string>;
    tampered.invoices = 'someone-elses-invoice';
    expect(verifyAlfredWebhook({ rawBody: JSON.stringify(tampered), headers: {}, secret, now })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const otherSecret = Buffer.from('another').toString('base64');
    expect(
      verifyAlfredWebhook({ rawBody: legacyBody(date, undefined, otherSecret), headers: {}, secret, now }),
    ).toEqual({ ok: false, reason: 'bad_signature' });
    const stale = legacyBody(formatLegacyDate(now - ALFRED_RETRY_HORIZON_MS - 1000));
    expect(verifyAlfredWebhook({ rawBody: stale, headers: {}, secret, now })).toEqual({ ok: false, reason: 'stale' });
    const future = legacyBody(formatLegacyDate(now + 10 * 60_000));
    expect(verifyAlfredWebhook({ rawBody: future, headers: {}, secret, now })).toEqual({ ok: false, reason: 'stale' });
  });

  it("accepts alfred's retries of one signed delivery across the horizon, each with the same replay key", () => {
    // alfred keeps the first attempt's date and signature on every retry: 5 minutes, an hour, 23 hours later.
    const raw = legacyBody(formatLegacyDate(now));
    const keys = [0, 5 * 60_000, 60 * 60_000, 23 * 60 * 60_000].map((later) => {
      const result = verifyAlfredWebhook({ rawBody: raw, headers: {}, secret, now: now + later });
      return result.ok ? result.replayKey : result.reason;
    });
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^l:/);
  });

  it('refuses a signature of the wrong length without throwing', () => {
    const body = JSON.stringify({
      invoices: 'x',
      date_invoices: formatLegacyDate(now),
      signature_invoices: 'c2hvcnQ=',
    });
    expect(verifyAlfredWebhook({ rawBody: body, headers: {}, secret, now })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });
});

describe('alfred signature-header webhook', () => {
  it('accepts a valid one and maps COMPLETED to settled, FAILED to failed', () => {
    const raw = eventBody();
    const headers = { signature: eventSignatureHeader(secret, raw, now - 2000) };
    const result = verifyAlfredWebhook({ rawBody: raw, headers, secret, now });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(alfredWebhookToEvent(result.event)).toMatchObject({
      provider: 'alfred',
      status: 'settled',
      ref: { key: ALFRED_REFS.invoiceId, value: 'inv-alfred-1' },
    });
    const failed = eventBody('FAILED');
    const failedResult = verifyAlfredWebhook({
      rawBody: failed,
      headers: { Signature: eventSignatureHeader(secret, failed, now) },
      secret,
      now,
    });
    expect(failedResult.ok && alfredWebhookToEvent(failedResult.event)?.status).toBe('failed');
  });

  it('refuses a tampered body, a stale timestamp and a missing signature; a repeat has the same replay key', () => {
    const raw = eventBody();
    const header = eventSignatureHeader(secret, raw, now);
    expect(
      verifyAlfredWebhook({ rawBody: raw.replace('COMPLETED', 'FAILED'), headers: { signature: header }, secret, now }),
    ).toEqual({ ok: false, reason: 'bad_signature' });
    const old = eventSignatureHeader(secret, raw, now - ALFRED_RETRY_HORIZON_MS - 1000);
    expect(verifyAlfredWebhook({ rawBody: raw, headers: { signature: old }, secret, now })).toEqual({
      ok: false,
      reason: 'stale',
    });
    const first = verifyAlfredWebhook({ rawBody: raw, headers: { signature: header }, secret, now });
    const retry = verifyAlfredWebhook({ rawBody: raw, headers: { signature: header }, secret, now: now + 3_600_000 });
    expect(first.ok && retry.ok && first.replayKey === retry.replayKey).toBe(true);
    // Past the horizon the same signature is refused: the gateway's memory of it may be gone by then.
    expect(
      verifyAlfredWebhook({
        rawBody: raw,
        headers: { signature: header },
        secret,
        now: now + ALFRED_RETRY_HORIZON_MS + 1000,
      }),
    ).toEqual({ ok: false, reason: 'stale' });
    expect(verifyAlfredWebhook({ rawBody: raw, headers: { signature: 'garbage' }, secret, now })).toEqual({
      ok: false,
      reason: 'unsigned',
    });
  });

  it('takes a pluggable signed string', () => {
    const bodyOnly: SignedString = (_t, rawBody) => rawBody;
    const raw = eventBody();
    const header = eventSignatureHeader(secret, raw, now, bodyOnly);
    expect(verifyAlfredWebhook({ rawBody: raw, headers: { signature: header }, secret, now }).ok).toBe(false);
    expect(
      verifyAlfredWebhook({ rawBody: raw, headers: { signature: header }, secret, now, signedString: bodyOnly }).ok,
    ).toBe(true);
  });

  it("names alfred's transaction id when the event carries no invoice id", () => {
    const raw = JSON.stringify({ referenceId: 'tx-9', eventType: 'ONRAMP', status: 'COMPLETED', metadata: {} });
    const result = verifyAlfredWebhook({
      rawBody: raw,
      headers: { signature: eventSignatureHeader(secret, raw, now) },
      secret,
      now,
    });
    expect(result.ok && alfredWebhookToEvent(result.event)).toMatchObject({
      ref: { key: ALFRED_REFS.transactionId, value: 'tx-9' },
    });
  });

  it('believes a negative outcome only with a valid signature: alfred signs, so nothing else can confirm it', () => {
    for (const status of ['FAILED', 'CANCELLED', 'EXPIRED', 'REJECTED']) {
      const raw = eventBody(status);
      expect(verifyAlfredWebhook({ rawBody: raw, headers: {}, secret, now })).toEqual({
        ok: false,
        reason: 'malformed',
      });
      expect(
        verifyAlfredWebhook({
          rawBody: raw,
          headers: { signature: eventSignatureHeader('another secret', raw, now) },
          secret,
          now,
        }),
      ).toEqual({ ok: false, reason: 'bad_signature' });
      const signed = verifyAlfredWebhook({
        rawBody: raw,
        headers: { signature: eventSignatureHeader(secret, raw, now) },
        secret,
        now,
      });
      expect(signed.ok && alfredWebhookToEvent(signed.event)?.provider).toBe('alfred');
    }
  });

  it('ignores events that concern no invoice', () => {
    const raw = JSON.stringify({ referenceId: 'sub-1', eventType: 'KYC', status: 'COMPLETED', metadata: {} });
    const result = verifyAlfredWebhook({
      rawBody: raw,
      headers: { signature: eventSignatureHeader(secret, raw, now) },
      secret,
      now,
    });
    expect(result.ok && alfredWebhookToEvent(result.event)).toBeUndefined();
  });
});
