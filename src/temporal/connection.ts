import { readFile } from 'node:fs/promises';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { dataConverter } from './codec';

interface TemporalTarget {
  address: string;
  namespace: string;
}

async function tlsOptions(config: Config): Promise<ConnectionOptions['tls']> {
  const tls = config.temporal.tls;
  if (!tls) return config.temporal.apiKey ? true : undefined;
  const [crt, key, ca] = await Promise.all([
    tls.certPath ? readFile(tls.certPath) : undefined,
    tls.keyPath ? readFile(tls.keyPath) : undefined,
    tls.caPath ? readFile(tls.caPath) : undefined,
  ]);
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: ca,
    clientCertPair: crt && key ? { crt, key } : undefined,
  };
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
  const connection = await Connection.connect({
    address: target.address,
    tls: await tlsOptions(config),
    apiKey: config.temporal.apiKey,
  });
  return new Client({
    connection,
    namespace: target.namespace,
    dataConverter: dataConverter(config),
    // With tracing on, starts, signals, updates and queries get spans whose context travels in the Temporal headers.
    ...(options.tracing ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
}

export async function connectWorker(config: Config, target: TemporalTarget): Promise<NativeConnection> {
  const options: NativeConnectionOptions = {
    address: target.address,
    tls: await tlsOptions(config),
    apiKey: config.temporal.apiKey,
  };
  return NativeConnection.connect(options);
}
