import { execFile } from 'node:child_process';

/**
 * Runs the run's own `temporal` CLI against its dev server and returns stdout. Without a codec endpoint: what anyone
 * with access to the Temporal cluster (and none to our keys) sees.
 */
export function temporalCli(args: readonly string[], namespace: string): Promise<string> {
  const cli = process.env.TEST_TEMPORAL_CLI;
  const address = process.env.TEST_TEMPORAL_ADDRESS;
  if (!cli || !address) throw new Error('TEST_TEMPORAL_CLI or TEST_TEMPORAL_ADDRESS is unset: run through jest.');
  // The CLI also reads TEMPORAL_* variables (a codec endpoint among them); none of ours may change what it shows.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
  return new Promise((resolve, reject) => {
    execFile(
      cli,
      [...args, '--address', address, '--namespace', namespace],
      { env, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`temporal ${args.join(' ')}: ${stderr.trim() || error.message}`)) : resolve(stdout),
    );
  });
}
