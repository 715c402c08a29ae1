import os from 'node:os';
import { DEFAULT_TENANT_POLICY, loadAccessDocument } from '../access/principals';
import { createInvoiceClient } from '../client';
import { loadConfig } from '../config';
import { connectClient } from '../temporal/connection';
import { parseCommandLine, UsageError, USAGE } from './args';
import { createKey, EXIT, failure, runCommand } from './commands';
import { formatReconciliation, runReconcile } from './reconcile';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** `payorch`: operators' commands, straight to Temporal through the client library. */
async function run(argv: readonly string[]): Promise<number> {
  let json = argv.includes('--json');
  try {
    const parsed = parseCommandLine(argv);
    json = parsed.json;
    if (parsed.command.kind === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (parsed.command.kind === 'keys-create') {
      // No Temporal here: a key is made on the operator's machine and only its digest is kept.
      const output = await createKey(parsed.command, json);
      process.stdout.write(`${output.stdout}\n`);
      return output.exitCode;
    }
    const config = loadConfig();
    if (parsed.command.kind === 'reconcile') {
      // Through the gateway, as a service would: the run is recorded there, and the key's roles decide.
      const apiKey = process.env.PAYORCH_API_KEY;
      if (!apiKey) throw new UsageError('reconcile needs PAYORCH_API_KEY (a key with reconciliations:run and :read)');
      const result = await runReconcile(parsed.command, {
        gatewayUrl: process.env.PAYORCH_GATEWAY_URL ?? config.gateway.url,
        apiKey,
      });
      process.stdout.write(`${json ? JSON.stringify(result, null, 2) : formatReconciliation(result)}\n`);
      return EXIT.ok;
    }
    const address = config.temporal.address ?? `127.0.0.1:${config.devServer.port}`;
    const client = await connectClient(config, { address, namespace: config.temporal.namespace });
    try {
      // An operator's tool: a tenant's policy is read from the keys document when the gateway's is configured here.
      const access = loadAccessDocument(config.gateway);
      const invoices = createInvoiceClient({
        client,
        timing: config.invoiceTiming,
        tenant: parsed.tenant,
        // Whoever creates an invoice with payorch is its creator, and so may not approve it with payorch either.
        principal: `cli:${os.userInfo().username}`,
        policyFor: (tenant) => access?.tenants[tenant] ?? DEFAULT_TENANT_POLICY,
      });
      const output = await runCommand(parsed.command, json, { invoices, readStdin });
      process.stdout.write(`${output.stdout}\n`);
      return output.exitCode;
    } finally {
      await client.connection.close();
    }
  } catch (error) {
    const { exitCode, message, body } = failure(error, json);
    if (json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    else process.stderr.write(`payorch: ${message}\n`);
    return exitCode;
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`payorch: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = EXIT.other;
  },
);
