import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config';
import { PayloadDecryptionError } from '../temporal/codec';
import { hasRole, type AccessRegistry } from '../access/principals';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { problem, sendProblem } from './problem';
import { AUTH_PROBLEMS, problemResponse, WITH_API_KEY } from './documentation';

/** Temporal caps one payload at 2 MiB; the UI sends a whole event's payloads in one request. */
export const CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;

/** What the Temporal UI sends with its codec requests (and so asks for in its preflight). */
const ALLOWED_HEADERS = 'content-type, x-namespace, authorization';

// Proto3 JSON writes bytes as base64 and accepts either alphabet, padded or not.
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'expected base64');

const PayloadJsonSchema = z.object({
  metadata: z.record(z.string(), base64).nullish(),
  data: base64.nullish(),
});

export const CodecBodySchema = z.object({ payloads: z.array(PayloadJsonSchema).max(10_000) });

type PayloadJson = z.output<typeof PayloadJsonSchema>;

function fromJson(json: PayloadJson): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(json.metadata ?? {})) metadata[key] = Buffer.from(value, 'base64');
  return { metadata, data: Buffer.from(json.data ?? '', 'base64') };
}

function toJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) {
    if (value) metadata[key] = Buffer.from(value).toString('base64');
  }
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') };
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  config: Config;
  /** The principals: those with `payloads:decode` (or `admin`) may use the codec server, others get 403. */
  access: AccessRegistry;
}

type Verdict = 'allowed' | 'unauthenticated' | 'forbidden';

/**
 * Who may use the codec server. Decoding turns history back into customer data, so it takes a principal with the
 * `payloads:decode` role (or `admin`); a service's key is known but has no such right (403). The one exception: a
 * caller presenting no key while payloads are sealed with the published development key, which anyone can already
 * decrypt, so `npm start`'s UI (which sends no key) works untouched.
 */
function codecAuthorizer(options: CodecServerOptions): (authorization: string | undefined) => Verdict {
  const open = options.config.payloadEncryption.developmentKey;
  return (authorization) => {
    if (open && !authorization) return 'allowed';
    const principal = options.access.authenticate(authorization);
    if (!principal) return 'unauthenticated';
    return hasRole(principal, 'payloads:decode') ? 'allowed' : 'forbidden';
  };
}

/**
 * Temporal's remote codec protocol (`POST /codec/encode`, `POST /codec/decode`, `{ payloads: [...] }` in proto3 JSON)
 * for the Temporal UI and `temporal` CLI. The `X-Namespace` header is accepted but not used: one key set serves
 * every namespace this deployment writes.
 */
export function registerCodecServer(app: FastifyInstance, options: CodecServerOptions): void {
  const authorize = codecAuthorizer(options);
  const uiOrigin = options.config.codecServer.uiOrigin;

  const allowOrigin = (request: FastifyRequest, reply: FastifyReply): boolean => {
    reply.header('Vary', 'Origin');
    if (request.headers.origin !== uiOrigin) return false;
    reply.header('Access-Control-Allow-Origin', uiOrigin);
    // The UI can be told to send cookies with codec calls; without this the browser would discard the answer.
    reply.header('Access-Control-Allow-Credentials', 'true');
    return true;
  };

  app.register(
    (plain, _options, registered) => {
      // The zod compilers of its own, so the routes' schemas work wherever the codec server is mounted.
      plain.setValidatorCompiler(validatorCompiler);
      plain.setSerializerCompiler(serializerCompiler);
      const codec = plain.withTypeProvider<ZodTypeProvider>();
      codec.addHook('onRequest', (request, reply, done) => {
        // CORS headers first: a browser must be able to read even a 401, or the UI shows a bare network error.
        allowOrigin(request, reply);
        // A preflight carries no credentials by design; it is answered by the OPTIONS routes below.
        if (request.method === 'OPTIONS') return done();
        const verdict = authorize(request.headers.authorization);
        if (verdict === 'allowed') return done();
        if (verdict === 'forbidden') {
          sendProblem(
            reply,
            problem(
              403,
              'Forbidden',
              'this key may not use the codec server (it needs the role payloads:decode or admin)',
            ),
          );
          return;
        }
        reply.header('WWW-Authenticate', 'Bearer');
        sendProblem(
          reply,
          problem(401, 'Unauthorized', 'a key with the role payloads:decode is required (Authorization: Bearer)'),
        );
      });

      for (const action of ['encode', 'decode'] as const) {
        // The CORS preflight is the browser's, not part of the API a caller would read about.
        codec.options(`/${action}`, { schema: { hide: true, response: { 204: z.undefined() } } }, (request, reply) => {
          if (allowOrigin(request, reply)) {
            reply
              .header('Access-Control-Allow-Methods', 'POST, OPTIONS')
              .header('Access-Control-Allow-Headers', ALLOWED_HEADERS)
              .header('Access-Control-Max-Age', '600');
          }
          return reply.status(204).send();
        });
        codec.post(
          `/${action}`,
          {
            bodyLimit: CODEC_BODY_LIMIT_BYTES,
            config: { invalid: { body: `invalid ${action} request` } },
            schema: {
              operationId: `${action}Payloads`,
              summary: `Temporal's remote codec: ${action} payloads (for the Temporal UI and CLI)`,
              tags: ['codec'],
              security: [...WITH_API_KEY],
              body: CodecBodySchema,
              response: {
                200: {
                  description: `The ${action}d payloads`,
                  content: { 'application/json': { schema: CodecBodySchema } },
                },
                400: problemResponse('ValidationError: not a payloads document'),
                403: problemResponse('Forbidden: the key lacks payloads:decode (or admin)'),
                422: problemResponse('PayloadDecryptionError: a payload names a key this deployment does not hold'),
                ...AUTH_PROBLEMS,
              },
            },
          },
          async (request, reply) => {
            const payloads = request.body.payloads.map(fromJson);
            try {
              const result =
                action === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
              return reply.header('Cache-Control', 'no-store').send({ payloads: result.map(toJson) });
            } catch (error) {
              if (error instanceof PayloadDecryptionError) {
                return sendProblem(reply, problem(422, error.type, error.message));
              }
              throw error;
            }
          },
        );
      }
      registered();
    },
    { prefix: '/codec' },
  );
}
