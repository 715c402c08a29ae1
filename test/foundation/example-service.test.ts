import { npmStartEnv } from '../support/npm-start';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DEVELOPMENT_ENCRYPTION_KEY } from '../../src/config';
import type { InvoiceState } from '../../src/workflows/definitions';
import { ensureBuilt } from '../support/build';
import { processesMatching, ROOT, runCaptured, spawnGroup, type Run, type Spawned } from '../support/processes';

/**
 * npm's own variables (npm_config_local_prefix among them, when jest runs under npm) would point a nested npm at this
 * repository; the example installs into its temporary copy only.
 */
function withoutNpmVariables(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')),
  );
  return { ...env, ...extra };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = withoutNpmVariables()) {
  return runCaptured(command, args, { cwd, env });
}

function succeeded(what: string, result: Run): Run {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

describe('examples/invoice-service, installed from the packed package', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'payorch-example-'));
  const app = path.join(dir, 'invoice-service');
  let stack: Spawned | undefined;

  afterAll(async () => {
    if (stack && stack.child.exitCode === null && stack.child.signalCode === null) {
      process.kill(-(stack.child.pid ?? 0), 'SIGINT');
      await stack.exited;
    }
    // The example's installed dependencies take some 400 MB.
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, approves and waits for an invoice against npm start, which shows it COMPLETED', async () => {
    // The stack comes up while the package is built, packed and installed: two cores, two mostly-waiting jobs.
    const { env, ports } = await npmStartEnv(dir);
    const { grpc, gateway } = ports;
    stack = spawnGroup('npm', ['start', '--silent'], env);

    await ensureBuilt();
    succeeded('npm pack', await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], ROOT));
    const tarball = readdirSync(dir).find((name) => /^payment-orchestrator-.*\.tgz$/.test(name));
    if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
    cpSync(path.join(ROOT, 'examples', 'invoice-service'), app, {
      recursive: true,
      filter: (source) => !/[\\/](node_modules|dist)$/.test(source),
    });
    // The npm cache holds every dependency: nothing is fetched.
    const install = succeeded(
      'npm install',
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, tarball)], app),
    );
    expect(install.stderr).not.toMatch(/npm warn/i);
    // Strict TypeScript against the package's declarations, resolved through its `exports`.
    succeeded('the example build', await run('npm', ['run', 'build', '--silent'], app));

    // The client entry loads the Temporal client and the shared definitions, never the worker or a sandbox.
    const loaded = succeeded(
      'require payment-orchestrator/client',
      await run(
        process.execPath,
        ['-e', "require('payment-orchestrator/client'); console.log(Object.keys(require.cache).join('\\n'))"],
        app,
      ),
    ).stdout;
    expect(loaded).toContain(path.join('node_modules', 'payment-orchestrator', 'dist', 'client', 'index.js'));
    expect(loaded).not.toMatch(/@temporalio[\\/]worker|sandbox|stellar-sdk|[\\/]fastify[\\/]/);

    await stack.waitFor(/Press Ctrl-C to stop/, 240_000);
    const output = stack.output();
    const namespace = /Temporal frontend\s+\S+ \(namespace ([^)]+)\)/.exec(output)?.[1];
    const serviceKey = /dev-service\s+(po_\S+)/.exec(output)?.[1];
    expect(namespace).toBeTruthy();
    expect(serviceKey).toMatch(/^po_/);

    const invoiceId = `inv_example_${randomUUID().slice(0, 8)}`;
    const temporalEnv = {
      TEMPORAL_ADDRESS: `127.0.0.1:${grpc}`,
      TEMPORAL_NAMESPACE: namespace ?? '',
      // npm start seals payloads with the published development key unless the environment names keys.
      PAYLOAD_ENCRYPTION_KEYS:
        process.env.PAYLOAD_ENCRYPTION_KEYS ?? `${DEVELOPMENT_ENCRYPTION_KEY.id}:${DEVELOPMENT_ENCRYPTION_KEY.base64}`,
    };
    const example = await run(
      'npm',
      ['start', '--silent'],
      app,
      withoutNpmVariables({ ...temporalEnv, INVOICE_TENANT: 'dev', INVOICE_ID: invoiceId }),
    );
    expect(example.stderr).toBe('');
    expect(example.stdout).toContain(`approved ${invoiceId}`);
    expect(example.stdout).toContain(`${invoiceId} COMPLETED`);
    expect(example.code).toBe(0);

    // The stack agrees: its gateway, asked as the tenant's service, and the packed package's own payorch.
    const response = await fetch(`http://127.0.0.1:${gateway}/v1/invoices/${invoiceId}`, {
      headers: { authorization: `Bearer ${serviceKey}` },
    });
    expect(response.status).toBe(200);
    const state = (await response.json()) as InvoiceState;
    expect(state).toMatchObject({ invoiceId, status: 'COMPLETED', provider: 'alfred', direction: 'pay_out' });
    expect(state.approvals?.map((approval) => approval.by)).toEqual(['ops@invoice-service']);

    const shown = succeeded(
      'payorch',
      await run(
        path.join(app, 'node_modules', '.bin', 'payorch'),
        ['--json', '--tenant', 'dev', 'invoice', 'show', invoiceId],
        app,
        withoutNpmVariables({ ...temporalEnv, LOG_LEVEL: 'error' }),
      ),
    );
    expect(JSON.parse(shown.stdout)).toMatchObject({ invoiceId, status: 'COMPLETED' });

    process.kill(-(stack.child.pid ?? 0), 'SIGINT');
    await stack.exited;
    expect(stack.output()).not.toMatch(/stop failed|npm start failed/);
    const deadline = Date.now() + 10_000;
    while (processesMatching(dir).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(processesMatching(dir)).toEqual([]);
  }, 600_000);
});
