// Pure and zod-free: the workflow bundle imports it for its summaries.

export interface CurrencyInfo {
  /** ISO 4217 numeric code, as PayOne wants it. */
  readonly numeric: string;
  /** Digits after the decimal point (the minor unit exponent). */
  readonly exponent: number;
}

/** ISO 4217 currencies we accept. Extend the table rather than guessing an exponent. */
export const CURRENCIES = {
  AED: { numeric: '784', exponent: 2 },
  ARS: { numeric: '032', exponent: 2 },
  BHD: { numeric: '048', exponent: 3 },
  BRL: { numeric: '986', exponent: 2 },
  CHF: { numeric: '756', exponent: 2 },
  CLP: { numeric: '152', exponent: 0 },
  EUR: { numeric: '978', exponent: 2 },
  GBP: { numeric: '826', exponent: 2 },
  JOD: { numeric: '400', exponent: 3 },
  JPY: { numeric: '392', exponent: 0 },
  KRW: { numeric: '410', exponent: 0 },
  KWD: { numeric: '414', exponent: 3 },
  MXN: { numeric: '484', exponent: 2 },
  OMR: { numeric: '512', exponent: 3 },
  SAR: { numeric: '682', exponent: 2 },
  USD: { numeric: '840', exponent: 2 },
} as const satisfies Record<string, CurrencyInfo>;

export type CurrencyCode = keyof typeof CURRENCIES;

export const CURRENCY_CODES = Object.keys(CURRENCIES) as CurrencyCode[];

export function isCurrencyCode(code: string): code is CurrencyCode {
  return Object.prototype.hasOwnProperty.call(CURRENCIES, code);
}

export function currencyExponent(code: CurrencyCode): number {
  return CURRENCIES[code].exponent;
}

/**
 * Integer minor units to a decimal string with exactly the currency's digits: 12500 USD -> "125.00", 5 JOD -> "0.005".
 * Works on the digits, never through a float, so no amount is ever rounded.
 */
export function minorToDecimal(amount: number, currency: CurrencyCode): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`amount must be a safe integer, got ${amount}`);
  const exponent = currencyExponent(currency);
  const negative = amount < 0;
  const digits = Math.abs(amount)
    .toString()
    .padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}

/**
 * A provider's decimal (string or number) back to integer minor units. Refuses more digits than the currency has
 * instead of rounding: a provider that reports 1.005 USD is reporting something we did not ask for.
 */
export function decimalToMinor(value: string | number, currency: CurrencyCode): number {
  const text = typeof value === 'number' ? numberToPlainString(value) : value.trim();
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new RangeError(`not a decimal amount: ${JSON.stringify(value)}`);
  const [, sign, whole = '0', rawFraction = ''] = match;
  const exponent = currencyExponent(currency);
  const fraction = rawFraction.replace(/0+$/, '');
  if (fraction.length > exponent) {
    throw new RangeError(`${text} has more than ${exponent} decimal digits for ${currency}`);
  }
  const minor = Number(`${whole}${fraction.padEnd(exponent, '0')}`);
  if (!Number.isSafeInteger(minor)) throw new RangeError(`amount out of range: ${text}`);
  return sign ? -minor : minor;
}

function numberToPlainString(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite amount: ${value}`);
  // toString gives the shortest round-tripping form, which is the decimal the provider meant to send.
  const text = value.toString();
  if (/e/i.test(text)) return value.toFixed(20).replace(/\.?0+$/, '');
  return text;
}

/** "125.00 USD": for summaries and logs. */
export function formatMoney(amount: number, currency: CurrencyCode): string {
  return `${minorToDecimal(amount, currency)} ${currency}`;
}
