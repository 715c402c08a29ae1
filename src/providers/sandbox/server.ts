import Fastify, { type FastifyInstance } from 'fastify';
import type { ProviderName } from '../../domain/constants';
import type { Logger } from '../../logger';
import { PROVIDERS } from '../index';
import { Counter, Faults, WebhookSender, type FaultSettings, type ProviderSandbox } from './kit';

export { sandboxBaseUrl } from './kit';

export interface SandboxServerOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  logger: Logger;
  /** Base of the webhook routes, e.g. http://127.0.0.1:3000/webhooks; a provider appends its own path. */
  webhookBaseUrl: string;
  faults?: Partial<Record<ProviderName, Partial<FaultSettings>>>;
  /** 1 is the providers' documented timing; tests use a small fraction. */
  timeScale?: number;
  random?: () => number;
}

export interface SandboxHandle<S extends ProviderSandbox = ProviderSandbox> {
  sandbox: S;
  faults: Faults;
  counter: Counter;
  webhooks: WebhookSender;
}

export interface SandboxServer {
  url: string;
  app: FastifyInstance;
  get<S extends ProviderSandbox>(provider: ProviderName): SandboxHandle<S>;
  /** Points every sandbox's webhooks somewhere else (a test's receiver, a restarted gateway). */
  setWebhookBaseUrl(url: string): void;
  close(): Promise<void>;
}

/** One HTTP server for every provider's sandbox, each under `/<provider>`. */
export async function startSandboxes(options: SandboxServerOptions): Promise<SandboxServer> {
  // Requests a timeout fault is holding must not keep close() waiting.
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, forceCloseConnections: true });
  // PayOne posts form bodies; the sandbox reads them as the real service would.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
  let webhookBase = options.webhookBaseUrl.replace(/\/$/, '');
  const handles = new Map<ProviderName, SandboxHandle>();
  for (const definition of Object.values(PROVIDERS)) {
    const logger = options.logger.child({ sandbox: definition.name });
    const faults = new Faults(options.faults?.[definition.name], options.random);
    const webhooks = new WebhookSender(faults, logger);
    const counter = new Counter();
    const sandbox = definition.sandbox({
      logger,
      faults,
      webhooks,
      counter,
      webhookUrl: (path) => `${webhookBase}${path}`,
      credentials: {},
      timeScale: options.timeScale ?? 1,
    });
    await app.register(
      (instance, _opts, done) => {
        // A lost response: the provider did the work, the caller never hears of it and must not do it twice.
        instance.addHook('onSend', async (request, reply, payload) => {
          if (!request.url.includes('/_sandbox/') && faults.loseResponse(request)) {
            reply.hijack();
            request.raw.socket.destroy();
          }
          return payload;
        });
        sandbox.register(instance);
        // The sandbox's own record of what it created, for a test driving a stack in another process.
        instance.get('/_sandbox/counts', (_request, reply) => reply.send(counter.snapshot()));
        done();
      },
      { prefix: `/${definition.name}` },
    );
    handles.set(definition.name, { sandbox, faults, counter, webhooks });
  }
  const address = await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  return {
    url: address,
    app,
    get<S extends ProviderSandbox>(provider: ProviderName): SandboxHandle<S> {
      const handle = handles.get(provider);
      if (!handle) throw new Error(`no sandbox for ${provider}`);
      return handle as SandboxHandle<S>;
    },
    setWebhookBaseUrl(url: string) {
      webhookBase = url.replace(/\/$/, '');
    },
    async close() {
      for (const handle of handles.values()) handle.webhooks.close();
      await app.close();
    },
  };
}
