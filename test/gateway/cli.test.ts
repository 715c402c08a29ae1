import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createAccessRegistry, loadAccessDocument } from '../../src/access/principals';
import { createInvoiceClient } from '../../src/client';
import type { InvoiceState } from '../../src/workflows/definitions';
import { BUILD_WAIT_MS, ensureBuilt } from '../support/build';
import { payorchAgainst } from '../support/processes';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest, uniqueId } from '../support/requests';
import { FAST_TIMING, startTestEnv, type TestEnv } from '../support/temporal-env';
import { waitForStatus } from '../support/wait';

describe('payorch CLI', () => {
  const { registry, fakes } = fakeRegistry();
  let env: TestEnv;
  let dir: string;
  beforeAll(async () => {
    // payorch runs from dist/, as it does when installed.
    await ensureBuilt();
    env = await startTestEnv({ providers: registry });
    dir = await mkdtemp(path.join(os.tmpdir(), 'payorch-'));
  }, BUILD_WAIT_MS);
  afterAll(async () => env?.stop());

  const payorch = (...args: string[]) =>
    payorchAgainst({ address: env.config.temporal.address, namespace: env.namespace })(...args);

  it('creates from a file, shows it as JSON and as text, and lists it', async () => {
    const request = invoiceRequest({ customer: { ...invoiceRequest().customer, id: `cus_${uniqueId()}` } });
    const file = path.join(dir, 'request.json');
    await writeFile(file, JSON.stringify(request));

    const created = await payorch('invoice', 'create', '--file', file, '--json');
    expect(created).toMatchObject({ code: 0 });
    expect(JSON.parse(created.stdout)).toMatchObject({ invoiceId: request.invoiceId, created: true });
    expect((await payorch('invoice', 'create', '--file', file)).stdout).toMatch(/already exists/);
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');

    const shown = await payorch('invoice', 'show', request.invoiceId, '--json');
    expect(shown.code).toBe(0);
    const state = JSON.parse(shown.stdout) as InvoiceState;
    expect(state).toMatchObject({ invoiceId: request.invoiceId, status: 'AWAITING_SETTLEMENT', provider: 'alfred' });

    const text = await payorch('invoice', 'show', request.invoiceId);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Invoice ${request.invoiceId}: AWAITING_SETTLEMENT`);
    expect(text.stdout).toMatch(/SUBMITTED/);

    const listed = await payorch('invoice', 'list', '--customer', request.customer.id, '--json');
    expect(listed.code).toBe(0);
    expect(
      (JSON.parse(listed.stdout) as { invoices: { invoiceId: string }[] }).invoices.map((i) => i.invoiceId),
    ).toEqual([request.invoiceId]);
  });

  it('exits 3 for an unknown invoice and 4 for a refused decision', async () => {
    const missing = await payorch('invoice', 'show', uniqueId(), '--json');
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { type: 'InvoiceNotFound' } });

    const request = invoiceRequest();
    await env.invoices.startInvoice(request);
    await waitForStatus(env.invoices, request.invoiceId, 'AWAITING_SETTLEMENT');
    const refused = await payorch('invoice', 'approve', request.invoiceId, '--by', 'ops@acme');
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/InvalidState/);

    const cancelled = await payorch(
      'invoice',
      'cancel',
      request.invoiceId,
      '--by',
      'ops@acme',
      '--reason',
      'test',
      '--json',
    );
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ invoiceId: request.invoiceId, status: 'CANCELLED' });
  });

  it('lists an invoice in NEEDS_REVIEW and resolves it, refusing a resolution without an outcome or a reason', async () => {
    const impatient = createInvoiceClient({
      client: env.temporal,
      timing: { ...FAST_TIMING, providerCallBudgetSeconds: 2 },
    });
    const request = invoiceRequest({ provider: 'payone' });
    fakes.payone.statuses.set(request.invoiceId, 'authorized');
    fakes.payone.script(request.invoiceId, 'complete', { transientFailures: 1000 });
    await impatient.startInvoice(request);
    // The capture keeps failing and, from now on, PayOne cannot say whether it happened.
    await waitForStatus(env.invoices, request.invoiceId, 'COMPLETING');
    fakes.payone.statusUnavailable.add(request.invoiceId);
    await waitForStatus(env.invoices, request.invoiceId, 'NEEDS_REVIEW');

    let listed = '';
    for (let i = 0; i < 50 && !listed.includes(request.invoiceId); i++) {
      listed = (await payorch('invoice', 'list', '--status', 'NEEDS_REVIEW')).stdout;
      if (!listed.includes(request.invoiceId)) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(listed).toContain(request.invoiceId);

    expect((await payorch('invoice', 'resolve', request.invoiceId, '--outcome', 'DONE', '--reason', 'x')).code).toBe(2);
    const noReason = await payorch('invoice', 'resolve', request.invoiceId, '--outcome', 'COMPLETED');
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/reason/);
    const resolved = await payorch(
      'invoice',
      'resolve',
      request.invoiceId,
      '--outcome',
      'FAILED',
      '--reason',
      'PayOne shows no capture',
      '--by',
      'ops@acme',
      '--json',
    );
    expect(resolved.code).toBe(0);
    expect(JSON.parse(resolved.stdout)).toMatchObject({
      status: 'FAILED',
      resolution: { outcome: 'FAILED', by: 'ops@acme' },
    });
  });

  it('exits 2 for bad usage and invalid input', async () => {
    expect((await payorch('invoice', 'show')).code).toBe(2);
    expect((await payorch('invoice', 'frobnicate', 'x')).code).toBe(2);
    expect((await payorch('invoice', 'show', 'x', '--nope')).code).toBe(2);
    const badStatus = await payorch('invoice', 'list', '--status', 'DONE');
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/--status/);

    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ ...invoiceRequest(), amount: 1.5 }));
    const invalid = await payorch('invoice', 'create', '--file', file, '--json');
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stdout)).toMatchObject({ error: { issues: [{ path: 'amount' }] } });

    const unmet = path.join(dir, 'no-phone.json');
    const noPhone = invoiceRequest({
      direction: 'pay_out',
      customer: { ...invoiceRequest().customer, phone: undefined },
    });
    await writeFile(unmet, JSON.stringify(noPhone));
    const refused = await payorch('invoice', 'create', '--file', unmet);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/invalid invoice request: customer\.phone: /);
    await expect(env.invoices.getInvoice(noPhone.invoiceId)).rejects.toMatchObject({ type: 'InvoiceNotFound' });

    const help = await payorch('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: payorch/);
  });

  it('makes keys that are shown once and stored as digests, and works within one tenant', async () => {
    const file = path.join(dir, 'keys.json');
    const makeKey = (tenant: string, id: string, roles: string) =>
      payorch('keys', 'create', '--tenant', tenant, '--id', id, '--roles', roles, '--file', file, '--json');
    const made = await makeKey('acme', 'acme-ops', 'invoices:read,invoices:approve');
    expect(made.code).toBe(0);
    const { key } = JSON.parse(made.stdout) as { key: string };
    const second = JSON.parse((await makeKey('acme', 'acme-ops', 'invoices:read,invoices:approve')).stdout) as {
      key: string;
    };
    const stored = await readFile(file, 'utf8');
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(second.key);
    const registry = createAccessRegistry(loadAccessDocument({ keysFile: file }) ?? { tenants: {}, principals: [] });
    for (const each of [key, second.key]) {
      expect(registry.authenticate(`Bearer ${each}`)).toMatchObject({ id: 'acme-ops', tenant: 'acme' });
    }
    const otherTenant = await makeKey('globex', 'acme-ops', 'admin');
    expect(otherTenant.code).toBe(2);
    expect(otherTenant.stdout).toMatch(/belongs to tenant acme/);
    expect((await payorch('keys', 'create', '--tenant', 'acme', '--id', 'x', '--roles', 'root')).code).toBe(2);

    // An invoice of tenant acme is found under acme, and not without a tenant or under another.
    const request = invoiceRequest();
    const requestFile = path.join(dir, 'acme-request.json');
    await writeFile(requestFile, JSON.stringify(request));
    expect((await payorch('--tenant', 'acme', 'invoice', 'create', '--file', requestFile)).code).toBe(0);
    const shown = await payorch('--tenant', 'acme', 'invoice', 'show', request.invoiceId, '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({
      invoiceId: request.invoiceId,
      reference: `acme_${request.invoiceId}`,
    });
    expect((await payorch('--tenant', 'globex', 'invoice', 'show', request.invoiceId)).code).toBe(3);
    expect((await payorch('invoice', 'show', request.invoiceId)).code).toBe(3);
  });
});
