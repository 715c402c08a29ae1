import { parseCommandLine, UsageError } from './args';

describe('payorch reconcile', () => {
  it("reads the issue's own example: a provider and a day, midnight UTC", () => {
    expect(parseCommandLine(['reconcile', '--provider', 'alfred', '--since', '2026-11-01'])).toEqual({
      command: { kind: 'reconcile', provider: 'alfred', since: '2026-11-01T00:00:00.000Z', timeoutSeconds: 900 },
      json: false,
    });
  });

  it('takes every provider when none is named, an ISO time, and --json', () => {
    expect(
      parseCommandLine(['reconcile', '--since', '2026-11-01T12:00:00+02:00', '--until', '2026-11-02', '--json']),
    ).toEqual({
      command: {
        kind: 'reconcile',
        since: '2026-11-01T10:00:00.000Z',
        until: '2026-11-02T00:00:00.000Z',
        timeoutSeconds: 900,
      },
      json: true,
    });
  });

  it.each([
    [['reconcile'], /--since/],
    [['reconcile', '--since', 'yesterday'], /--since/],
    [['reconcile', '--since', '2026-11-01', '--provider', 'paypal'], /--provider/],
    [['reconcile', '--since', '2026-11-01', '--status', 'COMPLETED'], /no --status/],
    [['reconcile', 'alfred', '--since', '2026-11-01'], /no arguments/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(UsageError);
    expect(() => parseCommandLine(argv)).toThrow(message);
  });
});
