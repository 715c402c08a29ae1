import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { ApprovalResponseSchema, InvoiceResponseSchema } from './schemas';

const DIR = path.join(__dirname, 'fixtures');

/** Every fixture and the parser alfred's answer of that kind goes through; a fixture without one fails the test. */
const PARSERS: Record<string, z.ZodType> = {
  // Seed 000 (Approval Invoice, pay-out only): the 202 answer, as the document prints it.
  'approval-invoice-response.json': ApprovalResponseSchema,
  'invoice-approved.json': InvoiceResponseSchema,
};

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(path.join(DIR, name), 'utf8'));
}

describe("alfred's sample payloads through the parsers", () => {
  it('has a parser for every fixture', () => {
    expect(
      readdirSync(DIR)
        .filter((name) => name.endsWith('.json'))
        .sort(),
    ).toEqual(Object.keys(PARSERS).sort());
  });

  it.each(Object.entries(PARSERS))('%s parses', (name, schema) => {
    expect(schema.safeParse(fixture(name)).success).toBe(true);
  });

  it("reads seed 000's Approval Invoice answer as a success, and refuses an answer whose data is not true", () => {
    const sample = fixture('approval-invoice-response.json');
    expect(ApprovalResponseSchema.parse(sample)).toEqual({ statusCode: 202, data: true, message: 'update Invoice' });
    expect(ApprovalResponseSchema.safeParse({ ...(sample as object), data: false }).success).toBe(false);
  });
});
