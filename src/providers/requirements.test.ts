import { SAMPLES, sampleRequest } from '../dev/samples';
import { DIRECTIONS, PROVIDER_NAMES } from '../domain/constants';
import { InvoiceRequestSchema } from '../domain/invoice';
import { PROVIDERS, unmetRequirements } from './index';

const parse = (input: unknown) => InvoiceRequestSchema.parse(input);

describe('provider requirements', () => {
  it.each(SAMPLES.map((sample) => [sample.provider, sample.direction] as const))(
    'the %s %s sample (npm start and the e2e tests) meets them',
    (provider, direction) => {
      expect(unmetRequirements(parse(sampleRequest({ invoiceId: 'inv_req', provider, direction })))).toEqual([]);
    },
  );

  it('the samples cover every direction each provider offers', () => {
    for (const provider of PROVIDER_NAMES) {
      const sampled = SAMPLES.filter((sample) => sample.provider === provider).map((sample) => sample.direction);
      expect([...sampled].sort()).toEqual([...PROVIDERS[provider].directions].sort());
    }
  });

  it('names the direction, and only the direction, where the provider does not offer it', () => {
    for (const provider of PROVIDER_NAMES) {
      for (const direction of DIRECTIONS.filter((d) => !PROVIDERS[provider].directions.includes(d))) {
        const bare = sampleRequest({ invoiceId: 'inv_req', provider, direction: 'pay_in' });
        const issues = unmetRequirements(parse({ ...bare, direction }));
        expect(issues).toEqual([{ path: 'direction', message: `${provider} supports pay_in only` }]);
      }
    }
  });

  it('payone and bitfinex need nothing beyond the shared schema', () => {
    for (const provider of ['payone', 'bitfinex'] as const) {
      const sample = sampleRequest({ invoiceId: 'inv_req', provider, direction: 'pay_in' });
      const minimal = parse({
        ...sample,
        customer: { id: 'c1', firstName: 'Ana', lastName: 'Pérez', email: 'ana@example.com', country: 'ZW' },
        paymentMethod: undefined,
        bank: undefined,
      });
      expect(PROVIDERS[provider].requirements(minimal)).toEqual([]);
    }
  });
});
