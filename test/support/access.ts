import { accessDocumentFor, createAccessRegistry, type TenantPolicy } from '../../src/access/principals';
import { parseInvoiceRequest } from '../../src/client';
import { tenantInvoiceKey } from '../../src/workflows/definitions';

/** The tenant of the end-to-end stacks, and the keys of its principals. */
export const TEST_TENANT = 'test';
export const OTHER_TENANT = 'other';
export const TEST_KEYS = {
  service: 'test-service-key',
  approver: 'test-approver-key',
  /** A second approver, for a tenant whose policy asks for two. */
  approver2: 'test-approver2-key',
  reader: 'test-reader-key',
  /** An operator who may read decrypted payloads (the codec server) and nothing else. */
  decoder: 'test-decoder-key',
  operator: 'test-operator-key',
  otherTenant: 'other-tenant-key',
} as const;

/**
 * The stacks' tenant lets pay-outs run without an approval unless the request asks for one, as the tests written
 * before tenants expect; the access tests make tenants with the default policy themselves.
 */
export const TEST_POLICY: TenantPolicy = { payoutApproval: 'optional', twoApproversFrom: {} };

export const testAccessDocument = () =>
  accessDocumentFor(
    [
      {
        id: 'test-service',
        tenant: TEST_TENANT,
        roles: ['invoices:create', 'invoices:read', 'invoices:cancel', 'events:read', 'webhooks:manage'],
        key: TEST_KEYS.service,
      },
      {
        id: 'test-approver',
        tenant: TEST_TENANT,
        roles: ['invoices:read', 'invoices:approve', 'invoices:cancel'],
        key: TEST_KEYS.approver,
      },
      {
        id: 'test-approver-2',
        tenant: TEST_TENANT,
        roles: ['invoices:read', 'invoices:approve'],
        key: TEST_KEYS.approver2,
      },
      { id: 'test-reader', tenant: TEST_TENANT, roles: ['invoices:read'], key: TEST_KEYS.reader },
      { id: 'test-decoder', tenant: TEST_TENANT, roles: ['payloads:decode'], key: TEST_KEYS.decoder },
      { id: 'test-operator', tenant: TEST_TENANT, roles: ['admin'], key: TEST_KEYS.operator },
      {
        id: 'other-service',
        tenant: OTHER_TENANT,
        roles: [
          'invoices:create',
          'invoices:read',
          'invoices:approve',
          'invoices:cancel',
          'events:read',
          'webhooks:manage',
        ],
        key: TEST_KEYS.otherTenant,
      },
    ],
    { [TEST_TENANT]: TEST_POLICY },
  );

export const testAccess = () => createAccessRegistry(testAccessDocument());

/** The environment variable that hands the same principals to a gateway started from configuration. */
export const testAccessEnv = (): Record<string, string> => ({ GATEWAY_KEYS: JSON.stringify(testAccessDocument()) });

/** A request the way the stack's providers see it: under the tenant's key (`test_<invoiceId>`). */
export function providerInvoice(request: unknown) {
  const parsed = parseInvoiceRequest(request);
  return { ...parsed, invoiceId: tenantInvoiceKey(TEST_TENANT, parsed.invoiceId) };
}
