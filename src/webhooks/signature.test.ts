import { signWebhook, verifyWebhook, WebhookSignatureError, type WebhookSignatureFailure } from './signature';

const event = {
  id: 'evt:test:inv-1:1',
  type: 'invoice.created',
  tenant: 'test',
  invoiceId: 'inv-1',
  sequence: 1,
  position: 7,
  occurredAt: '2026-12-02T08:00:00.000Z',
  data: { invoice: { invoiceId: 'inv-1', status: 'CREATED', amount: 1250 } },
};
const body = JSON.stringify(event);
const NOW = 1_764_662_400;
const secret = 'whsec_current';
const older = 'whsec_older';

function refusal(call: () => unknown): WebhookSignatureFailure {
  try {
    call();
  } catch (error) {
    if (error instanceof WebhookSignatureError) {
      expect(error.type).toBe('WebhookSignatureError');
      return error.reason;
    }
    throw error;
  }
  throw new Error('the webhook was accepted');
}

describe('webhook signatures', () => {
  it('accepts its own signature and returns the event', () => {
    const header = signWebhook(body, [secret], NOW);
    expect(header).toMatch(/^t=1764662400,v1=[0-9a-f]{64}$/);
    expect(verifyWebhook(body, header, [secret], 300, NOW)).toEqual(event);
    expect(verifyWebhook(Buffer.from(body), header, secret, 300, NOW + 299)).toEqual(event);
  });

  it('refuses a tampered body, a wrong secret, and a timestamp outside the tolerance', () => {
    const header = signWebhook(body, [secret], NOW);
    expect(refusal(() => verifyWebhook(body.replace('1250', '9250'), header, [secret], 300, NOW))).toBe(
      'NoMatchingSignature',
    );
    expect(refusal(() => verifyWebhook(body, header, ['whsec_wrong'], 300, NOW))).toBe('NoMatchingSignature');
    expect(refusal(() => verifyWebhook(body, header, [secret], 300, NOW + 301))).toBe('TimestampOutsideTolerance');
    expect(refusal(() => verifyWebhook(body, header, [secret], 60, NOW - 61))).toBe('TimestampOutsideTolerance');
    // A signature moved to another timestamp no longer matches: the timestamp is signed with the body.
    expect(refusal(() => verifyWebhook(body, header.replace(`t=${NOW}`, `t=${NOW + 5}`), [secret], 300, NOW))).toBe(
      'NoMatchingSignature',
    );
  });

  it('refuses a missing or malformed header, no secrets, and a signed body that is no event', () => {
    expect(refusal(() => verifyWebhook(body, undefined, [secret], 300, NOW))).toBe('MalformedHeader');
    expect(refusal(() => verifyWebhook(body, 't=abc,v1=zz', [secret], 300, NOW))).toBe('MalformedHeader');
    expect(refusal(() => verifyWebhook(body, `t=${NOW}`, [secret], 300, NOW))).toBe('MalformedHeader');
    expect(refusal(() => verifyWebhook(body, signWebhook(body, [secret], NOW), [], 300, NOW))).toBe('NoSecrets');
    const notAnEvent = '{"hello":"world"}';
    expect(refusal(() => verifyWebhook(notAnEvent, signWebhook(notAnEvent, [secret], NOW), [secret], 300, NOW))).toBe(
      'InvalidBody',
    );
  });

  it('during a rotation, signs with every active secret so either one verifies', () => {
    const header = signWebhook(body, [secret, older], NOW);
    expect(header.split(',').filter((part) => part.startsWith('v1='))).toHaveLength(2);
    expect(verifyWebhook(body, header, [older], 300, NOW).id).toBe(event.id);
    expect(verifyWebhook(body, header, [secret], 300, NOW).id).toBe(event.id);
    expect(verifyWebhook(body, header, ['whsec_unrelated', secret], 300, NOW).id).toBe(event.id);
  });

  it('skips signature schemes it does not know rather than refusing', () => {
    const header = `${signWebhook(body, [secret], NOW)},v2=${'a'.repeat(64)}`;
    expect(verifyWebhook(body, header, [secret], 300, NOW).id).toBe(event.id);
  });
});
