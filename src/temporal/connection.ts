import { Client, Connection } from '@temporalio/client';
import { toClientOptions } from '@temporalio/envconfig';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { dataConverter } from './codec';

interface TemporalTarget {
  address: string;
  namespace: string;
}

/**
 * envconfig's own conversion, so TLS from files or inline PEM, `tls.disabled`, the API key implying TLS and the gRPC
 * metadata mean here what they mean to the CLI. The target's address wins: the dev stack supplies one when the
 * profile names none.
 */
function connectionOptions(config: Config, target: TemporalTarget): NativeConnectionOptions {
  return toClientOptions({ ...config.temporal, address: target.address }).connectionOptions;
}

/**
 * The same address, namespace, TLS and API key for the client, the worker and the gateway; every client encrypts what
 * it sends (workflow input, signals, updates) and decrypts what it reads (results, queries). `tracing`: the process has
 * started tracing (see src/telemetry/tracing.ts), and the client carries the trace into the workflows it calls.
 */
export async function connectClient(
  config: Config,
  target: TemporalTarget,
  options: { tracing?: boolean } = {},
): Promise<Client> {
  const { address, tls, apiKey, metadata } = connectionOptions(config, target);
  const connection = await Connection.connect({ address, tls, apiKey, metadata });
  return new Client({
    connection,
    namespace: target.namespace,
    dataConverter: dataConverter(config),
    // With tracing on, starts, signals, updates and queries get spans whose context travels in the Temporal headers.
    ...(options.tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
}

export async function connectWorker(config: Config, target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config, target));
}
