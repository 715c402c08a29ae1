import type { ProviderRequirements } from '../types';

/**
 * Both directions move money between Xprizo wallets: the adapter refuses to submit without the customer's wallet,
 * the payer of a pay-in and the payee of a pay-out.
 */
export const xprizoRequirements: ProviderRequirements = (request) =>
  request.paymentMethod.walletAccountId
    ? []
    : [
        {
          path: 'paymentMethod.walletAccountId',
          message: "xprizo needs the customer's wallet account (payer of a pay-in, payee of a pay-out)",
        },
      ];
