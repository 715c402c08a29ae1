import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { SAMPLE_BANK, SAMPLE_CUSTOMER } from './dev/samples';
import { BankAccountSchema, CustomerSchema, InvoiceRequestSchema } from './domain/invoice';
import { createLogger, NOT_PERSONAL_FIELDS, PERSONAL_KEYS, redactionPaths } from './logger';

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

interface Leaf {
  path: string;
  key: string;
  value: string;
}

/**
 * An object with a distinctive string at every field of the schema, nested objects included, read from the zod
 * shapes themselves: a field added to a schema gets a value here without this test being touched.
 */
function filledFrom(schema: z.ZodObject<z.core.$ZodShape>, prefix: string, leaves: Leaf[]): Record<string, unknown> {
  const filled: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    let inner: z.core.$ZodType = field;
    while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable || inner instanceof z.ZodDefault) {
      inner = inner.unwrap();
    }
    const path = `${prefix}.${key}`;
    if (inner instanceof z.ZodObject) {
      filled[key] = filledFrom(inner, path, leaves);
    } else {
      const value = `v${randomUUID().replace(/-/g, '')}`;
      leaves.push({ path, key, value });
      filled[key] = value;
    }
  }
  return filled;
}

describe('logger redaction of personal data', () => {
  it('redacts every field of the customer and bank schemas except the ones declared not personal', () => {
    const leaves: Leaf[] = [];
    const customer = filledFrom(CustomerSchema, 'customer', leaves);
    const bank = filledFrom(BankAccountSchema, 'bank', leaves);
    const { logger, lines } = capture();
    // Where the request sits in our logs: at the top, in a workflow's input, and in an activity's argument list.
    logger.info({ customer, bank }, 'top level');
    logger.info({ input: { request: { customer, bank } } }, 'workflow input');
    logger.info({ activity: { args: [{ request: { customer, bank } }] } }, 'activity arguments');
    expect(lines).toHaveLength(3);

    const personal = leaves.filter((leaf) => !NOT_PERSONAL_FIELDS.has(leaf.key));
    // The schemas have personal fields at all, nested ones (the address's street) among them.
    expect(personal.map((leaf) => leaf.path)).toEqual(
      expect.arrayContaining(['customer.email', 'customer.address.street', 'bank.accountNumber', 'bank.nationalId']),
    );
    for (const line of lines) {
      const text = JSON.stringify(line);
      expect(personal.filter((leaf) => text.includes(leaf.value)).map((leaf) => leaf.path)).toEqual([]);
      // What is declared not personal stays readable (unless it sits inside a personal object, like an address's
      // state), so the line still says whose invoice it is.
      const kept = leaves.filter((leaf) =>
        leaf.path
          .split('.')
          .slice(1)
          .every((key) => NOT_PERSONAL_FIELDS.has(key)),
      );
      expect(kept.map((leaf) => leaf.path)).toEqual(expect.arrayContaining(['customer.id', 'bank.country']));
      expect(kept.filter((leaf) => !text.includes(leaf.value)).map((leaf) => leaf.path)).toEqual([]);
    }
  });

  it('prints none of the personal values of a whole invoice request', () => {
    const request = InvoiceRequestSchema.parse({
      invoiceId: 'inv_log_1',
      provider: 'alfred',
      direction: 'pay_out',
      amount: 12500,
      currency: 'USD',
      customer: SAMPLE_CUSTOMER,
      bank: SAMPLE_BANK,
    });
    const { logger, lines } = capture();
    logger.info({ request }, 'invoice started');
    logger.info({ workflow: { input: { request } } }, 'workflow input');
    const values = [
      SAMPLE_CUSTOMER.firstName,
      SAMPLE_CUSTOMER.lastName,
      SAMPLE_CUSTOMER.email,
      SAMPLE_CUSTOMER.phone,
      SAMPLE_CUSTOMER.address?.street,
      SAMPLE_CUSTOMER.address?.city,
      SAMPLE_CUSTOMER.address?.zip,
      SAMPLE_CUSTOMER.birthday,
      SAMPLE_BANK.accountNumber,
      SAMPLE_BANK.accountOwner,
      SAMPLE_BANK.nationalId,
    ].filter((value): value is string => typeof value === 'string');
    expect(values).toHaveLength(11);
    for (const line of lines) {
      const text = JSON.stringify(line);
      expect(values.filter((value) => text.includes(value))).toEqual([]);
      expect(text).toContain('"invoiceId":"inv_log_1"');
      expect(text).toContain(`"id":"${SAMPLE_CUSTOMER.id}"`);
    }
  });

  it('derives the personal keys from the schemas', () => {
    expect([...PERSONAL_KEYS].sort()).toEqual(
      [
        'accountNumber',
        'accountOwner',
        'address',
        'birthday',
        'city',
        'email',
        'firstName',
        'lastName',
        'nationalId',
        'nationality',
        'phone',
        'street',
        'zip',
      ].sort(),
    );
  });
});
