import type { FieldIssue, ProviderRequirements } from '../types';
import { toAlpha3 } from './mapping';

/**
 * What alfred refuses later, read from the adapter: KYC lite (login-sof-kyc) rejects any empty field of the body
 * `kycLiteBody` builds and an ISO-3 country the mapping cannot give; submit-transaction sends the phone as
 * withdrawlPhone (where an ATM pay-out's QR code goes); the bank step refuses a pay-out without the recipient account.
 * The KYC-full upload is not checked: the adapter always sends a body, and whether alfred asks for it is alfred's
 * decision at run time.
 */
export const alfredRequirements: ProviderRequirements = (request) => {
  const { customer } = request;
  const issues: FieldIssue[] = [];
  if (!toAlpha3(customer.country)) {
    issues.push({
      path: 'customer.country',
      message: `alfred needs an ISO-3 country and ${customer.country} has no mapping`,
    });
  }
  if (!customer.phone) issues.push({ path: 'customer.phone', message: "alfred's KYC needs the customer's phone" });
  if (!customer.address) {
    issues.push({
      path: 'customer.address',
      message: "alfred's KYC needs the customer's address (street, city and zip)",
    });
  }
  if (!customer.birthday) {
    issues.push({ path: 'customer.birthday', message: "alfred's KYC needs the customer's birthday" });
  }
  if (request.direction === 'pay_out' && !request.bank) {
    issues.push({ path: 'bank', message: 'a pay-out through alfred needs the recipient bank account' });
  }
  return issues;
};
