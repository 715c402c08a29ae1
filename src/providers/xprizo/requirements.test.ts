import { sampleRequest } from '../../dev/samples';
import { InvoiceRequestSchema, type InvoiceRequest } from '../../domain/invoice';
import { xprizoRequirements } from './requirements';

/** The shared sample, with the wallet given (the sample's own) or left out. */
const request = (direction: InvoiceRequest['direction'], walletAccountId?: string) => {
  const input = sampleRequest({ invoiceId: 'inv_req_xprizo', provider: 'xprizo', direction });
  const paymentMethod = walletAccountId ? input.paymentMethod : { type: 'wallet' as const };
  return InvoiceRequestSchema.parse({ ...input, paymentMethod });
};

describe('xprizo requirements', () => {
  it.each(['pay_in', 'pay_out'] as const)('accepts the sample %s request', (direction) => {
    expect(xprizoRequirements(request(direction, '2001'))).toEqual([]);
  });

  it.each(['pay_in', 'pay_out'] as const)("names the customer's wallet for a %s without one", (direction) => {
    expect(xprizoRequirements(request(direction)).map((issue) => issue.path)).toEqual([
      'paymentMethod.walletAccountId',
    ]);
  });
});
