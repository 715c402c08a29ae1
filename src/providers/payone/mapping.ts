import type { ProviderStatus } from '../../domain/constants';
import { CURRENCIES, type CurrencyCode } from '../../domain/money';
import type { RecordStatus } from '../../domain/reconciliation';

/** PayOne's invoice states, in our canonical spelling. */
export const PAYONE_STATES = [
  'active',
  'inactive',
  'pre-authorized',
  'paid',
  'completed',
  'expired',
  'deactivated',
] as const;
export type PayOneState = (typeof PAYONE_STATES)[number];

/**
 * The strings inquireInvoice may answer, lower-cased, and the state each means. UNCONFIRMED: PayOne's docs give no
 * list; the defaults are the state names of its service descriptions plus obvious variants. PAYONE_STATUS_ALIASES
 * adds to or overrides them without a release, once PayOne's real strings are seen.
 */
export const DEFAULT_STATUS_ALIASES: Readonly<Record<string, PayOneState>> = {
  active: 'active',
  inactive: 'inactive',
  'pre-authorized': 'pre-authorized',
  preauthorized: 'pre-authorized',
  pre_authorized: 'pre-authorized',
  authorized: 'pre-authorized',
  paid: 'paid',
  completed: 'completed',
  complete: 'completed',
  captured: 'completed',
  expired: 'expired',
  deactivated: 'deactivated',
  cancelled: 'deactivated',
};

/** How the alias table's keys are written, and how an answered status is looked up in it. */
export function normalizeStatus(status: string): string {
  return status.trim().toLowerCase();
}

export function toPayOneState(
  status: string,
  aliases: Readonly<Record<string, PayOneState>> = DEFAULT_STATUS_ALIASES,
): PayOneState | undefined {
  const key = normalizeStatus(status);
  // An own key only: "constructor" or "toString" answered by PayOne must not find Object.prototype's members.
  return Object.hasOwn(aliases, key) ? aliases[key] : undefined;
}

/**
 * A status PayOne answered, read through the alias table. `unknown` keeps the raw word: the table is a guess
 * (UNCONFIRMED), so a word it lacks is news for the operator, not proof that the invoice went wrong.
 */
export type PayOneStatusReading = { kind: 'known'; state: PayOneState } | { kind: 'unknown'; raw: string };

export function readPayOneStatus(
  status: string,
  aliases: Readonly<Record<string, PayOneState>> = DEFAULT_STATUS_ALIASES,
): PayOneStatusReading {
  const state = toPayOneState(status, aliases);
  return state ? { kind: 'known', state } : { kind: 'unknown', raw: status };
}

/** The built-in table with the configured entries over it, keys normalized as lookups are. */
export function statusAliasTable(
  overrides: Readonly<Record<string, PayOneState>> = {},
): Readonly<Record<string, PayOneState>> {
  const table: Record<string, PayOneState> = { ...DEFAULT_STATUS_ALIASES };
  for (const [raw, state] of Object.entries(overrides)) table[normalizeStatus(raw)] = state;
  return Object.freeze(table);
}

export function mapPayOneState(state: PayOneState): ProviderStatus {
  switch (state) {
    case 'active':
    case 'inactive':
      return 'pending';
    case 'pre-authorized':
      return 'authorized';
    case 'paid':
    case 'completed':
      return 'settled';
    case 'expired':
      return 'expired';
    case 'deactivated':
      return 'cancelled';
    default: {
      const unreachable: never = state;
      throw new Error(`unmapped PayOne state ${String(unreachable)}`);
    }
  }
}

/** Minor units without a decimal point, as PayOne wants them: our amounts already are, for every exponent. */
export function toPayOneAmount(amount: number): string {
  if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`not an amount in minor units: ${amount}`);
  return String(amount);
}

export function fromPayOneAmount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new RangeError(`not a PayOne amount: ${JSON.stringify(value)}`);
  return Number(value.trim());
}

export function toPayOneCurrency(currency: CurrencyCode): string {
  return CURRENCIES[currency].numeric;
}

/** PayOne's expiryperiod in the largest unit that is exact (D, H, else MI); seconds round up to a whole minute. */
export function toExpiryPeriod(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}D`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}H`;
  return `${Math.max(1, Math.ceil(seconds / 60))}MI`;
}

/** The sandbox reads expiryperiod back; undefined when it is not PayOne's format. */
export function parseExpiryPeriod(value: string): number | undefined {
  const match = /^(\d+)(D|H|MI)$/.exec(value.trim().toUpperCase());
  if (!match) return undefined;
  const unit = match[2] === 'D' ? 86_400 : match[2] === 'H' ? 3_600 : 60;
  return Number(match[1]) * unit * 1000;
}

/** The alphabetic code of a PayOne (ISO 4217 numeric) currency, when our table has it. */
export function fromPayOneCurrency(numeric: string): CurrencyCode | undefined {
  const code = (Object.keys(CURRENCIES) as CurrencyCode[]).find(
    (alpha) => CURRENCIES[alpha].numeric === numeric.trim(),
  );
  return code;
}

/** What a PayOne state says of the money, in reconciliation's words. */
export function payOneRecordStatus(state: PayOneState | undefined): RecordStatus {
  switch (state) {
    case 'paid':
    case 'completed':
      return 'settled';
    case 'expired':
      return 'expired';
    case 'deactivated':
      return 'cancelled';
    default:
      // Active, inactive, pre-authorized, or a word the table lacks: nothing settled yet.
      return 'pending';
  }
}
