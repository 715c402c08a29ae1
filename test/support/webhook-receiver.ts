import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  rawBody: string;
  body: unknown;
  headers: http.IncomingHttpHeaders;
}

/**
 * A stand-in for the gateway in provider contract tests: records every webhook a sandbox sends, raw bytes included
 * (signatures cover them), and answers what the test decides ('drop' gives no answer at all).
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  answer: (hook: ReceivedWebhook) => Promise<number | 'drop'> = () => Promise.resolve(200);
  /** The body of a 2xx answer (Xprizo wants {"status":"success"}, alfred {"message":"success"}). */
  successBody = '{"status":"success"}';
  url = '';

  private readonly server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const hook = {
        path: request.url ?? '',
        rawBody,
        body: rawBody ? (JSON.parse(rawBody) as unknown) : undefined,
        headers: request.headers,
      };
      this.received.push(hook);
      void this.answer(hook).then((status) => {
        if (status === 'drop') request.socket.destroy();
        else response.writeHead(status, { 'content-type': 'application/json' }).end(this.successBody);
      });
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  async waitFor(predicate: (hook: ReceivedWebhook) => boolean, timeoutMs = 5000): Promise<ReceivedWebhook> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('webhook did not arrive');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
