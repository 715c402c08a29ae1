import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FAILURE_TYPES, providerRefusal, providerTransient } from '../errors';
import { SpanKind, SpanStatusCode, traced, withTraceHeaders } from '../telemetry/tracing';

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

/**
 * One HTTP call to a provider, in a client span of its own whose context goes out as `traceparent`. Network faults and
 * timeouts become retryable failures; the caller classifies the answer with `classifyStatus`. Headers are never logged
 * or put on the span: they carry the credentials.
 */
export function sendRequest(provider: string, request: HttpRequest): Promise<HttpResponse> {
  // The URL itself stays out of the span: paths and queries can carry references and webhook tokens.
  const target = new URL(request.url);
  const attributes = {
    'payment.provider': provider,
    'http.request.method': request.method,
    'server.address': target.hostname,
    ...(target.port ? { 'server.port': Number(target.port) } : {}),
  };
  return traced(request.method, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const response = await sendUntraced(provider, { ...request, headers: withTraceHeaders(request.headers) });
    span.setAttribute('http.response.status_code', response.status);
    if (response.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${response.status}` });
    return response;
  });
}

async function sendUntraced(provider: string, request: HttpRequest): Promise<HttpResponse> {
  // A timer cleared as soon as the body is read, not AbortSignal.timeout: that one lives its full term and holds the
  // activity's context (the invoice, the customer) until then, which under load is most of a worker's heap.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new DOMException('provider timeout', 'TimeoutError')), request.timeoutMs);
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: abort.signal,
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  } catch (error) {
    // Not `instanceof Error`: fetch's abort reason is a DOMException, which belongs to another realm under jest.
    const { name, message, cause } = (error ?? {}) as { name?: string; message?: string; cause?: { message?: string } };
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    throw providerTransient(
      FAILURE_TYPES.unavailable,
      timedOut
        ? `${provider} did not answer within ${request.timeoutMs} ms`
        : `${provider} unreachable: ${cause?.message ?? message ?? String(error)}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds or an HTTP date, as Retry-After allows; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The one place where a provider's HTTP status becomes retryable or final. `refusalType` lets a provider name the
 * cause of a 4xx (KycFailed, InsufficientFunds ...); `message` is the provider's own words.
 */
export function classifyStatus(
  provider: string,
  response: HttpResponse,
  message: string,
  refusalType: string = FAILURE_TYPES.providerRejected,
): Error {
  const { status } = response;
  if (status === 429) {
    return providerTransient(
      FAILURE_TYPES.rateLimited,
      `${provider} rate limit: ${message}`,
      retryAfterMs(response.headers),
    );
  }
  if (status >= 500 || status === 408) {
    return providerTransient(
      FAILURE_TYPES.unavailable,
      `${provider} answered ${status}: ${message}`,
      retryAfterMs(response.headers),
    );
  }
  if (status === 401 || status === 403) {
    return providerRefusal(FAILURE_TYPES.authFailed, `${provider} refused our credentials (${status}): ${message}`);
  }
  return providerRefusal(
    refusalType as (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES],
    `${provider} refused (${status}): ${message}`,
    {
      status,
    },
  );
}

/** Parses JSON text; an answer we cannot read is final, since retrying will not change its shape. */
export function parseJson<S extends z.ZodType>(provider: string, schema: S, text: string, what: string): z.output<S> {
  let data: unknown;
  try {
    data = text.length ? JSON.parse(text) : undefined;
  } catch {
    throw providerRefusal(FAILURE_TYPES.invalidResponse, `${provider} ${what}: not JSON: ${text.slice(0, 200)}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw providerRefusal(FAILURE_TYPES.invalidResponse, `${provider} ${what}: unexpected shape: ${issues}`);
  }
  return parsed.data;
}

/** A refusal `classifyStatus` made of a 404 (it keeps the status in the details): the provider knows no such object. */
export function refusedWith404(error: unknown): boolean {
  if (!(error instanceof ApplicationFailure)) return false;
  const [details] = error.details ?? [];
  return typeof details === 'object' && details !== null && (details as { status?: unknown }).status === 404;
}
