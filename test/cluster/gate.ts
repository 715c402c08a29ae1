import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A forwarding proxy that holds chosen requests until the test lets them through: a service's approvals and a
 * customer's actions wait here, so every invoice is in flight, at a known step, when the faults strike.
 */
export class Gate {
  private readonly held: (() => Promise<void>)[] = [];
  private open = false;
  private readonly servers: http.Server[] = [];

  /** Requests now waiting. */
  get waiting(): number {
    return this.held.length;
  }

  /** Lets the `count` oldest held requests through; resolves once each has its answer. */
  async release(count: number): Promise<void> {
    await Promise.all(this.held.splice(0, count).map((next) => next()));
  }

  /** Lets everything through, now and from now on. */
  releaseAll(): void {
    this.open = true;
    void this.release(this.held.length);
  }

  /** A URL that forwards to `target`, holding the requests `hold` picks. */
  async forward(target: string, hold: (method: string, path: string) => boolean): Promise<string> {
    const base = new URL(target);
    const server = http.createServer((request, response) => {
      const send = () =>
        new Promise<void>((answered) => {
          response.once('close', () => answered());
          const upstream = http.request(
            {
              host: base.hostname,
              port: base.port,
              method: request.method,
              path: request.url,
              headers: request.headers,
            },
            (answer) => {
              response.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(response);
            },
          );
          upstream.on('error', () => {
            response.writeHead(502);
            response.end();
          });
          request.pipe(upstream);
        });
      if (!this.open && hold(request.method ?? 'GET', request.url ?? '')) this.held.push(send);
      else void send();
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.releaseAll();
    await Promise.all(
      this.servers.map((server) => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(resolve));
      }),
    );
  }
}
