import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { State } from '@temporalio/worker';

/** What `GET /healthz` reports: each worker of the process by task queue, and whether all of them are polling. */
export interface WorkerHealth {
  status: 'ok' | 'unavailable';
  workers: { taskQueue: string; state: State }[];
}

export interface WorkerHealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The worker process's health, on a port of its own: 200 only while every worker is RUNNING, so an orchestrator stops
 * routing to, and restarts, a process whose workers are starting, draining (STOPPING, within its shutdown grace time)
 * or have failed. Anything but `GET /healthz` is 404.
 */
export async function startWorkerHealth(
  states: () => WorkerHealth['workers'],
  options: { port: number; host?: string },
): Promise<WorkerHealthServer> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/healthz') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"not found"}');
      return;
    }
    const workers = states();
    const ok = workers.length > 0 && workers.every((worker) => worker.state === 'RUNNING');
    const body: WorkerHealth = { status: ok ? 'ok' : 'unavailable', workers };
    response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
