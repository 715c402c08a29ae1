import { randomBytes, randomInt } from 'node:crypto';
import type { InvoiceRequestInput } from '../../src/domain/invoice';
import { invoiceRequest } from './requests';

export interface PersonalRequest {
  request: InvoiceRequestInput;
  /**
   * Each personal value of the request, by field. Unique to this request and long enough that finding one in a
   * history, a CLI's output or a page means it leaked, never that it turned up by chance in ciphertext or a timestamp.
   */
  personal: {
    email: string;
    phone: string;
    street: string;
    birthday: string;
    firstName: string;
    lastName: string;
    accountNumber: string;
    accountOwner: string;
    nationalId: string;
  };
}

const digits = (count: number): string => Array.from({ length: count }, () => String(randomInt(10))).join('');

/** An alfred invoice request (its KYC needs every customer field) whose personal values belong to it alone. */
export function personalRequest(overrides: Partial<InvoiceRequestInput> = {}): PersonalRequest {
  const tag = randomBytes(6).toString('hex');
  // A birthday is a date, which a history is full of: a year no timestamp of this run can carry makes it unique.
  const birthday = `19${digits(2)}-0${1 + randomInt(9)}-1${randomInt(10)}`;
  const personal = {
    email: `grace.${tag}@example.com`,
    phone: `+5491${digits(10)}`,
    street: `Calle Privada ${tag} 1234`,
    birthday,
    firstName: `Gracelyn${tag}`,
    lastName: `Hopperton${tag}`,
    accountNumber: `0110${digits(18)}`,
    accountOwner: `Gracelyn${tag} Hopperton`,
    nationalId: `DNI${digits(9)}`,
  };
  const request = invoiceRequest({
    provider: 'alfred',
    direction: 'pay_in',
    customer: {
      id: `cus_${tag}`,
      firstName: personal.firstName,
      lastName: personal.lastName,
      email: personal.email,
      country: 'AR',
      phone: personal.phone,
      address: { street: personal.street, city: 'Buenos Aires', zip: 'C1043' },
      birthday: personal.birthday,
      nationality: 'AR',
    },
    bank: {
      bankName: 'Banco Nacion',
      accountNumber: personal.accountNumber,
      accountOwner: personal.accountOwner,
      country: 'AR',
      nationalId: personal.nationalId,
    },
    ...overrides,
  });
  return { request, personal };
}

/** Every string of a JSON value, and what each decodes to when read as base64 (how payload bytes are written). */
export function readableTexts(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') {
    into.push(value, Buffer.from(value, 'base64').toString('utf8'));
  } else if (Array.isArray(value)) {
    for (const item of value) readableTexts(item, into);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) readableTexts(item, into);
  }
  return into;
}

/** The personal fields whose value appears in any of the texts: empty when nothing leaked. */
export function leakedFields(personal: PersonalRequest['personal'], texts: readonly string[]): string[] {
  return Object.entries(personal)
    .filter(([, value]) => texts.some((text) => text.includes(value)))
    .map(([field]) => field);
}
