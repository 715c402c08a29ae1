import { ConfigError } from '../config';
import { GatewayConfigError } from '../gateway/auth';
import { TemporalUnavailableError } from '../temporal/dev-server';
import { ClusterStartError } from './supervisor';

/** A line for the developer who ran `npm start` or `npm run cluster`: stdout, not the JSON log. */
export function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/**
 * Ends a dev entry point that failed to start. A failure we foresaw (bad settings, no Temporal, a process that would
 * not start) already says what to do, so only its message is printed; anything else gets its stack.
 */
export function exitFailedStart(command: string, error: unknown): never {
  const foreseen =
    error instanceof ConfigError ||
    error instanceof TemporalUnavailableError ||
    error instanceof GatewayConfigError ||
    error instanceof ClusterStartError;
  const text = foreseen
    ? error.message
    : `${command} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  process.stderr.write(`${text}\n`);
  process.exit(1);
}
