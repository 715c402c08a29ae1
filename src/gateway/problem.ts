import type { FastifyReply } from 'fastify';
import { isGrpcDeadlineError, isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { z } from 'zod';
import type { ProblemSchema } from './schemas';
import {
  ForceCompleteFailedError,
  InvalidInvoiceRequestError,
  InvoiceConflictError,
  InvoiceNotFoundError,
  InvoiceNotReadyError,
  InvoiceStateError,
  NotAllowedError,
} from '../client/errors';

export type Problem = z.output<typeof ProblemSchema>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Seconds a caller should wait before retrying when Temporal cannot be reached. */
export const RETRY_AFTER_SECONDS = 5;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** `type` is a stable token a client can switch on (the same names the client library's errors carry). */
export function problem(status: number, type: string, detail?: string, errors?: Problem['errors']): Problem {
  return {
    type,
    title: TITLES[status] ?? 'Error',
    status,
    ...(detail ? { detail } : {}),
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  if (body.status === 503) reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
  return reply.status(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

// CANCELLED is what a call cut short by our own deadline (withDeadline) reports.
const GRPC_CANCELLED = 1;
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;

/**
 * Temporal could not be reached or did not answer in time. The SDK wraps gRPC errors (ServiceError and friends), so
 * the whole cause chain is inspected.
 */
export function isTemporalUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
    if (isGrpcDeadlineError(current)) return true;
    if (
      isGrpcServiceError(current) &&
      [GRPC_CANCELLED, GRPC_UNAVAILABLE, GRPC_DEADLINE_EXCEEDED, GRPC_RESOURCE_EXHAUSTED].includes(current.code)
    ) {
      return true;
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

/** The client library's typed errors, Fastify's own and Temporal outages, as problem details. */
export function problemFor(error: unknown): Problem {
  if (error instanceof InvalidInvoiceRequestError) {
    return problem(400, error.type, 'the invoice request is invalid', error.issues);
  }
  if (error instanceof InvoiceNotFoundError) return problem(404, error.type, error.message);
  // Accepted and durable, only not started by a worker yet: the same 503 + Retry-After as a busy Temporal.
  if (error instanceof InvoiceNotReadyError) return problem(503, error.type, error.message);
  if (error instanceof InvoiceConflictError) return problem(409, error.type, error.message);
  if (error instanceof InvoiceStateError) return problem(409, error.type, error.message);
  if (error instanceof NotAllowedError) return problem(403, error.type, error.message);
  // The provider said no or did not answer: the upstream's failure, not the caller's request.
  if (error instanceof ForceCompleteFailedError) return problem(502, error.type, error.message);
  if (isTemporalUnavailable(error)) {
    return problem(503, 'TemporalUnavailable', 'the workflow service cannot be reached; retry later');
  }
  const status = fastifyStatus(error);
  if (status !== undefined && status >= 400 && status < 500) {
    const code = (error as { code?: unknown }).code;
    return problem(status, typeof code === 'string' ? code : 'BadRequest', (error as Error).message);
  }
  return problem(500, 'InternalError', 'an unexpected error occurred');
}

function fastifyStatus(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}
