import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CURRENCY_CODES, type CurrencyCode } from '../domain/money';

/** What a principal may do. `admin` includes every other role. */
export const ROLES = [
  'invoices:create',
  'invoices:read',
  'invoices:approve',
  'invoices:cancel',
  'payloads:decode',
  'events:read',
  'webhooks:manage',
  'reconciliations:read',
  'reconciliations:run',
  'admin',
] as const;
export type Role = (typeof ROLES)[number];

/**
 * A tenant id is part of workflow ids and of the reference providers see (`<tenant>_<invoiceId>`), so it is limited to
 * characters every provider takes and holds no `_`: the first `_` of a reference ends the tenant.
 */
export const TenantIdSchema = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/,
    'a tenant id: 1-32 of a-z, 0-9 and "-", not starting or ending with "-"',
  );

export const PrincipalIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@:-]{1,100}$/, 'a principal id: 1-100 of letters, digits and . _ @ : -');

export interface Principal {
  readonly id: string;
  readonly tenant: string;
  readonly roles: readonly Role[];
}

export function hasRole(principal: Principal, role: Role): boolean {
  return principal.roles.includes(role) || principal.roles.includes('admin');
}

const KeyHashSchema = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'sha256:<64 hex digits>, as `payorch keys create` prints');

const currencyCode = z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]]);

/**
 * A tenant's approval policy. It is read when an invoice starts and carried in the workflow's input, so an invoice
 * keeps the policy it began under.
 */
export const TenantPolicySchema = z
  .object({
    /** Pay-outs wait for an approval unless this is `optional` (then the request's `approval.required` decides). */
    payoutApproval: z.enum(['required', 'optional']).default('required'),
    /** Per currency, the amount in minor units from which a pay-out needs two distinct approvers. */
    twoApproversFrom: z.partialRecord(currencyCode, z.number().int().positive()).default({}),
  })
  .strict();
export type TenantPolicy = z.output<typeof TenantPolicySchema>;

export const DEFAULT_TENANT_POLICY: TenantPolicy = { payoutApproval: 'required', twoApproversFrom: {} };

const PrincipalRecordSchema = z
  .object({
    id: PrincipalIdSchema,
    tenant: TenantIdSchema,
    roles: z.array(z.enum(ROLES)).min(1),
    /** Several while a key is rotated. Only digests are stored: the keys themselves are shown once, when made. */
    keys: z.array(KeyHashSchema).min(1),
  })
  .strict();

/** The keys file (`GATEWAY_KEYS_FILE`) or its inline form (`GATEWAY_KEYS`). */
export const AccessDocumentSchema = z
  .object({
    tenants: z.record(TenantIdSchema, TenantPolicySchema).default({}),
    principals: z.array(PrincipalRecordSchema),
  })
  .strict()
  .superRefine((document, ctx) => {
    const ids = new Set<string>();
    const hashes = new Set<string>();
    document.principals.forEach((principal, index) => {
      if (ids.has(principal.id)) {
        ctx.addIssue({ code: 'custom', path: ['principals', index, 'id'], message: `"${principal.id}" appears twice` });
      }
      ids.add(principal.id);
      for (const hash of principal.keys) {
        if (hashes.has(hash)) {
          ctx.addIssue({
            code: 'custom',
            path: ['principals', index, 'keys'],
            message: 'a key belongs to two entries',
          });
        }
        hashes.add(hash);
      }
    });
  });
export type AccessDocument = z.output<typeof AccessDocumentSchema>;
export type AccessDocumentInput = z.input<typeof AccessDocumentSchema>;

export class AccessConfigError extends Error {
  readonly type = 'AccessConfigError';
}

/** A new API key: 32 random bytes, with a prefix that makes a leaked key easy to recognise in a scanner. */
export function createApiKey(): string {
  return `po_${randomBytes(32).toString('base64url')}`;
}

/**
 * Keys are 256-bit random values, so one SHA-256 (not a slow password hash) is enough: nothing can be guessed from the
 * digest, and looking a key up costs one hash.
 */
export function hashApiKey(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

export interface AccessRegistry {
  /** The principal an `Authorization: Bearer <key>` header names, if any. */
  authenticate(authorization: string | undefined): Principal | undefined;
  policyFor(tenant: string): TenantPolicy;
  readonly principals: readonly Principal[];
}

export function parseAccessDocument(input: unknown, source: string): AccessDocument {
  const parsed = AccessDocumentSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new AccessConfigError(`${source} is not a valid keys document:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function createAccessRegistry(document: AccessDocument): AccessRegistry {
  const byHash = new Map<string, Principal>();
  const principals = document.principals.map((record): Principal => {
    const principal = Object.freeze({ id: record.id, tenant: record.tenant, roles: Object.freeze([...record.roles]) });
    for (const hash of record.keys) byHash.set(hash, principal);
    return principal;
  });
  return {
    principals,
    authenticate(authorization) {
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
      if (!match?.[1]) return undefined;
      // The lookup is by digest: its time depends on the digest, which tells a caller nothing about any stored key.
      return byHash.get(hashApiKey(match[1]));
    },
    policyFor: (tenant) => document.tenants[tenant] ?? DEFAULT_TENANT_POLICY,
  };
}

/** Reads the keys document named by the configuration: `GATEWAY_KEYS` (inline JSON) wins over `GATEWAY_KEYS_FILE`. */
export function loadAccessDocument(source: { keysJson?: string; keysFile?: string }): AccessDocument | undefined {
  if (source.keysJson) return parseAccessDocument(parseJson(source.keysJson, 'GATEWAY_KEYS'), 'GATEWAY_KEYS');
  if (!source.keysFile) return undefined;
  let text: string;
  try {
    text = readFileSync(source.keysFile, 'utf8');
  } catch (error) {
    throw new AccessConfigError(
      `GATEWAY_KEYS_FILE: cannot read ${source.keysFile} (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  return parseAccessDocument(parseJson(text, source.keysFile), source.keysFile);
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AccessConfigError(`${source} is not valid JSON`);
  }
}

/** Adds a key to a document, making its principal if new; an existing principal keeps its tenant and roles. */
export function addKey(
  document: AccessDocument,
  entry: { id: string; tenant: string; roles: readonly Role[] },
  keyHash: string,
): AccessDocument {
  const existing = document.principals.find((principal) => principal.id === entry.id);
  if (!existing) {
    return {
      ...document,
      principals: [...document.principals, { ...entry, roles: [...entry.roles], keys: [keyHash] }],
    };
  }
  if (existing.tenant !== entry.tenant) {
    throw new AccessConfigError(`principal ${entry.id} belongs to tenant ${existing.tenant}, not ${entry.tenant}`);
  }
  const sameRoles =
    existing.roles.length === entry.roles.length && entry.roles.every((r) => existing.roles.includes(r));
  if (!sameRoles) {
    throw new AccessConfigError(
      `principal ${entry.id} has roles ${existing.roles.join(',')}; a second key takes the same roles (edit the file to change them)`,
    );
  }
  return {
    ...document,
    principals: document.principals.map((principal) =>
      principal === existing ? { ...principal, keys: [...principal.keys, keyHash] } : principal,
    ),
  };
}

/** A keys document for keys already in hand (tests, the benchmark, `npm start`): only their digests go in. */
export function accessDocumentFor(
  entries: readonly { id: string; tenant: string; roles: readonly Role[]; key: string }[],
  tenants: Record<string, TenantPolicy> = {},
): AccessDocument {
  return parseAccessDocument(
    {
      tenants,
      principals: entries.map(({ key, ...entry }) => ({ ...entry, roles: [...entry.roles], keys: [hashApiKey(key)] })),
    },
    'the keys given',
  );
}
