import pino, { type Logger as PinoLogger } from 'pino';
import { Runtime, type Logger as TemporalLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';

export type Logger = PinoLogger;

/** Keys whose values are secrets or identify a person's money; redacted wherever they sit in a log object. */
export const SECRET_KEYS = [
  'API-Key',
  'API-Secret',
  'api-key',
  'api-secret',
  'authorization',
  'Authorization',
  'authenticationToken',
  'x-api-key',
  'bfx-apikey',
  'bfx-signature',
  'apiKey',
  'apiSecret',
  'secret',
  'password',
  'pin',
  'token',
  'accountNumber',
  'bankNumber',
  'cardNumber',
  'iban',
  'signature',
  'signature_invoices',
] as const;

const DEPTH = 5;

/** pino redacts by path; "any depth" is every path up to DEPTH levels of nesting (pino has no recursive wildcard). */
export function redactionPaths(keys: readonly string[] = SECRET_KEYS, depth = DEPTH): string[] {
  const paths: string[] = [];
  for (const key of keys) {
    const accessor = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
    for (let level = 0; level <= depth; level++) {
      const prefix = Array.from({ length: level }, () => '*').join('.');
      paths.push(level === 0 ? accessor.replace(/^\./, '') : `${prefix}${accessor}`);
    }
  }
  return paths;
}

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: redactionPaths(), censor: '[REDACTED]' },
      base: { service: 'payment-orchestrator' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** Routes the Temporal SDK's logs (and workflow and activity `log` calls) through our pino logger and its redaction. */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly logger: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.logger[LEVELS[level]](meta ?? {}, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

let runtimeInstalled = false;

/** The SDK runtime is a process-wide singleton: install it once, before the first worker or native connection. */
export function installTemporalRuntimeLogger(logger: Logger): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: new PinoTemporalLogger(logger.child({ component: 'temporal-sdk' })),
    // The SDK core's own warnings (slow workflow tasks, expired queries) go through pino too, not straight to stderr.
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} } },
  });
  runtimeInstalled = true;
}
