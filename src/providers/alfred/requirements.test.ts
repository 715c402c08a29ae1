import { sampleRequest } from '../../dev/samples';
import { InvoiceRequestSchema, type InvoiceRequest, type InvoiceRequestInput } from '../../domain/invoice';
import { alfredRequirements } from './requirements';

const request = (direction: InvoiceRequest['direction'], change: (input: InvoiceRequestInput) => void = () => {}) => {
  const input = structuredClone(sampleRequest({ invoiceId: 'inv_req_alfred', provider: 'alfred', direction }));
  change(input);
  return InvoiceRequestSchema.parse(input);
};
const paths = (invoice: InvoiceRequest) => alfredRequirements(invoice).map((issue) => issue.path);

describe('alfred requirements', () => {
  it.each(['pay_in', 'pay_out'] as const)('accepts the sample %s request', (direction) => {
    expect(alfredRequirements(request(direction))).toEqual([]);
  });

  it.each([
    ['customer.phone', (input: InvoiceRequestInput) => delete input.customer.phone],
    ['customer.address', (input: InvoiceRequestInput) => delete input.customer.address],
    ['customer.birthday', (input: InvoiceRequestInput) => delete input.customer.birthday],
    ['customer.country', (input: InvoiceRequestInput) => (input.customer.country = 'ZW')],
  ])('names %s, which KYC lite needs, in both directions', (path, change) => {
    expect(paths(request('pay_in', change))).toEqual([path]);
    expect(paths(request('pay_out', change))).toEqual([path]);
  });

  it('needs the recipient bank account for a pay-out only', () => {
    expect(paths(request('pay_out', (input) => delete input.bank))).toEqual(['bank']);
    expect(paths(request('pay_in', (input) => delete input.bank))).toEqual([]);
  });

  it('names every missing field at once, each with a reason', () => {
    const bare = request('pay_out', (input) => {
      input.customer = { id: 'c1', firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.com', country: 'AR' };
      delete input.bank;
    });
    const issues = alfredRequirements(bare);
    expect(issues.map((issue) => issue.path)).toEqual([
      'customer.phone',
      'customer.address',
      'customer.birthday',
      'bank',
    ]);
    for (const issue of issues) expect(issue.message).toMatch(/alfred/);
  });
});
