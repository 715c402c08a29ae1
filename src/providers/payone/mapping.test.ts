import {
  DEFAULT_STATUS_ALIASES,
  fromPayOneAmount,
  mapPayOneState,
  parseExpiryPeriod,
  readPayOneStatus,
  statusAliasTable,
  toExpiryPeriod,
  toPayOneAmount,
  toPayOneCurrency,
  toPayOneState,
} from './mapping';
import { ActivationResponseSchema, CompleteResponseSchema } from './schemas';
import activateFixture from './fixtures/activate-success.json';
import completeFixture from './fixtures/complete-success.json';

describe('PayOne mapping', () => {
  it('sends minor units without a decimal point for 0-, 2- and 3-decimal currencies', () => {
    expect(toPayOneAmount(500)).toBe('500'); // 500 JPY
    expect(toPayOneAmount(100)).toBe('100'); // 1.00 USD, the docs' example
    expect(toPayOneAmount(1250)).toBe('1250'); // 1.250 JOD
    expect(fromPayOneAmount('1250')).toBe(1250);
    expect(() => fromPayOneAmount('12.50')).toThrow(RangeError);
    expect(() => toPayOneAmount(1.5)).toThrow(RangeError);
  });

  it('uses ISO 4217 numeric currency codes', () => {
    expect(toPayOneCurrency('USD')).toBe('840');
    expect(toPayOneCurrency('JOD')).toBe('400');
    expect(toPayOneCurrency('JPY')).toBe('392');
  });

  it('writes expiryperiod in the largest exact unit and reads it back', () => {
    expect(toExpiryPeriod(86_400)).toBe('1D');
    expect(toExpiryPeriod(10 * 86_400)).toBe('10D');
    expect(toExpiryPeriod(7_200)).toBe('2H');
    expect(toExpiryPeriod(5_400)).toBe('90MI');
    expect(toExpiryPeriod(61)).toBe('2MI');
    expect(parseExpiryPeriod('130MI')).toBe(130 * 60_000);
    expect(parseExpiryPeriod('2H')).toBe(7_200_000);
    expect(parseExpiryPeriod('2W')).toBeUndefined();
  });

  it('maps status strings through the configurable alias table', () => {
    expect(mapPayOneState('active')).toBe('pending');
    expect(mapPayOneState('inactive')).toBe('pending');
    expect(mapPayOneState('pre-authorized')).toBe('authorized');
    expect(mapPayOneState('paid')).toBe('settled');
    expect(mapPayOneState('completed')).toBe('settled');
    expect(mapPayOneState('expired')).toBe('expired');
    expect(mapPayOneState('deactivated')).toBe('cancelled');
    expect(toPayOneState('Pre-Authorized')).toBe('pre-authorized');
    expect(toPayOneState('mystery')).toBeUndefined();
    expect(toPayOneState('HELD', { ...DEFAULT_STATUS_ALIASES, held: 'pre-authorized' })).toBe('pre-authorized');
  });

  it("reads a status the table lacks as unknown, keeping PayOne's word, instead of throwing", () => {
    expect(readPayOneStatus(' PAID ')).toEqual({ kind: 'known', state: 'paid' });
    expect(readPayOneStatus('On Hold')).toEqual({ kind: 'unknown', raw: 'On Hold' });
    // Object.prototype's members are not statuses.
    expect(readPayOneStatus('constructor')).toEqual({ kind: 'unknown', raw: 'constructor' });
    expect(readPayOneStatus('toString')).toEqual({ kind: 'unknown', raw: 'toString' });
  });

  it('lays configured aliases over the built-in table, keys matched as lookups are', () => {
    const table = statusAliasTable({ ' On_Hold ': 'pre-authorized', cancelled: 'expired' });
    expect(readPayOneStatus('ON_HOLD', table)).toEqual({ kind: 'known', state: 'pre-authorized' });
    // An override wins over the default; the rest of the defaults stay.
    expect(toPayOneState('Cancelled', table)).toBe('expired');
    expect(toPayOneState('captured', table)).toBe('completed');
    expect(Object.isFrozen(table)).toBe(true);
    expect(statusAliasTable()).toEqual(DEFAULT_STATUS_ALIASES);
  });

  it('reads the activateInvoice sample from the docs (seed 004)', () => {
    const parsed = ActivationResponseSchema.parse(activateFixture);
    expect(parsed).toEqual({ invoiceID: '50142985', status: 'Invoice is activated successfully' });
  });

  it('reads the completeInvoice sample from the docs', () => {
    const parsed = CompleteResponseSchema.parse(completeFixture);
    expect(parsed.invoicesDetails[0]).toMatchObject({ status: 'success', rrn: '840201608161029435230000000000' });
  });
});
