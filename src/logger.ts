import pino, { type Logger as PinoLogger } from 'pino';
import { Runtime, type Logger as TemporalLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';
import { z } from 'zod';
import { BankAccountSchema, CustomerSchema } from './domain/invoice';
import { WORKER_METRICS } from './domain/metric-names';

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

/**
 * The fields of the request's person schemas that do not identify anyone, and so stay readable in logs. Every other
 * field of CustomerSchema and BankAccountSchema is personal and redacted: a field added to either schema is redacted
 * until someone decides here that it is not personal.
 */
export const NOT_PERSONAL_FIELDS: ReadonlySet<string> = new Set([
  // The service's opaque customer id: what operators search and correlate logs by.
  'id',
  // As coarse as a region; `country` also names the provider's and the bank's country throughout the logs.
  'country',
  // The address's province: coarse, and `state` is the invoice state in nearly every log line.
  'state',
  // The bank's name, not the account holder's.
  'bankName',
]);

/** The schema behind optional/nullable/default wrappers, where an object's shape can be read. */
function unwrapped(schema: z.core.$ZodType): z.core.$ZodType {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return unwrapped(schema.unwrap());
  if (schema instanceof z.ZodDefault) return unwrapped(schema.unwrap());
  return schema;
}

/** Every field name of an object schema, nested objects' fields included (an address's street as well as `address`). */
export function schemaFieldNames(schema: z.ZodObject<z.core.$ZodShape>): string[] {
  const names: string[] = [];
  for (const [name, field] of Object.entries(schema.shape)) {
    names.push(name);
    const inner = unwrapped(field);
    if (inner instanceof z.ZodObject) names.push(...schemaFieldNames(inner));
  }
  return names;
}

/** The personal field names of the invoice request, read from its schemas so that a new field cannot be missed. */
export const PERSONAL_KEYS: readonly string[] = [
  ...new Set([...schemaFieldNames(CustomerSchema), ...schemaFieldNames(BankAccountSchema)]),
].filter((name) => !NOT_PERSONAL_FIELDS.has(name));

/** Everything the logger redacts: secrets and personal data. */
export const REDACTED_KEYS: readonly string[] = [...new Set<string>([...SECRET_KEYS, ...PERSONAL_KEYS])];

const DEPTH = 5;

/** pino redacts by path; "any depth" is every path up to DEPTH levels of nesting (pino has no recursive wildcard). */
export function redactionPaths(keys: readonly string[] = REDACTED_KEYS, depth = DEPTH): string[] {
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

export interface TemporalRuntimeOptions {
  /** `host:port` for the SDK's Prometheus exporter (TEMPORAL_METRICS_BIND); no metrics are exported when unset. */
  metricsBind?: string;
}

/** Upper bounds (ms) of our latency histograms: provider calls take tens of ms to tens of seconds. */
const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];

/**
 * The SDK runtime is a process-wide singleton: install it once, before the first worker or native connection. Its
 * options are fixed from then on, so the process that serves metrics must say so at this first call.
 */
export function installTemporalRuntimeLogger(logger: Logger, options: TemporalRuntimeOptions = {}): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: new PinoTemporalLogger(logger.child({ component: 'temporal-sdk' })),
    telemetryOptions: {
      // The SDK core's own warnings (slow workflow tasks, expired queries) go through pino too, not straight to stderr.
      logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} },
      ...(options.metricsBind
        ? {
            metrics: {
              prometheus: {
                bindAddress: options.metricsBind,
                histogramBucketOverrides: {
                  [WORKER_METRICS.providerCallLatency]: LATENCY_BUCKETS_MS,
                  [WORKER_METRICS.rateLimitWait]: LATENCY_BUCKETS_MS,
                },
              },
            },
          }
        : {}),
    },
  });
  runtimeInstalled = true;
}
