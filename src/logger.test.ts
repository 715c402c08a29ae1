import { Writable } from 'node:stream';
import { createLogger, redactionPaths } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

describe('logger redaction', () => {
  it('redacts secrets at the top level and nested several levels deep', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        authorization: 'Bearer top-secret',
        request: {
          headers: { 'API-Key': 'k-123', 'API-Secret': 's-456', 'bfx-signature': 'abc', 'x-api-key': 'xp' },
          body: { invoice: { authenticationToken: 'payone-token', bank: { accountNumber: '0110599520000001234567' } } },
        },
        amount: 12500,
      },
      'provider call',
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ['top-secret', 'k-123', 's-456', 'abc"', 'xp"', 'payone-token', '0110599520000001234567']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[REDACTED]');
    expect(lines[0]?.amount).toBe(12500);
  });

  it('builds bracketed paths for header names with dashes', () => {
    expect(redactionPaths(['API-Key'], 1)).toEqual(['["API-Key"]', '*["API-Key"]']);
  });
});
