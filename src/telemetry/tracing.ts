import { context, propagation, trace, SpanKind, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Config } from '../config';

/** The tracer of our own spans (the gateway's requests, the provider HTTP calls); Temporal's interceptors have theirs. */
export const TRACER_NAME = 'payment-orchestrator';

/** A process's tracing: what its spans go through, and what the workflow sink hands the workflows' spans to. */
export interface Tracing {
  readonly resource: Resource;
  readonly spanProcessor: SpanProcessor;
  shutdown(): Promise<void>;
}

/**
 * Registers the process-wide tracer provider, the async-context manager and the W3C trace-context propagator, which
 * Temporal's interceptors and `traced` use through the OpenTelemetry API. Until this is called the API is a no-op.
 */
export function startTracing(options: { serviceName: string; spanProcessor: SpanProcessor }): Tracing {
  const resource = new Resource({ 'service.name': options.serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [options.spanProcessor] });
  provider.register();
  return {
    resource,
    spanProcessor: options.spanProcessor,
    async shutdown() {
      // Flushes what is batched, then puts the API back to no-op, so a later start in this process registers anew.
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** Tracing over OTLP/HTTP when OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set; undefined (the no-op API) otherwise. */
export function tracingFromConfig(config: Config, defaultServiceName: string): Tracing | undefined {
  const url = config.telemetry.otlpTracesUrl;
  if (!url) return undefined;
  return startTracing({
    serviceName: config.telemetry.serviceName ?? defaultServiceName,
    spanProcessor: new BatchSpanProcessor(new OTLPTraceExporter({ url })),
  });
}

/**
 * Runs `work` in a new active span, ending it whatever happens; a thrown error marks the span failed and is rethrown.
 * With tracing off the span is the API's non-recording one.
 */
export function traced<T>(
  name: string,
  options: { kind: SpanKind; attributes?: Attributes; parent?: Record<string, string | string[] | undefined> },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  // An incoming request's `traceparent` makes our span a child of its caller's.
  const parent = options.parent ? propagation.extract(context.active(), options.parent) : context.active();
  return tracer.startActiveSpan(name, { kind: options.kind, attributes: options.attributes }, parent, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active trace context as W3C headers (`traceparent`, `tracestate`), added to `headers`; none with tracing off. */
export function withTraceHeaders(headers: Record<string, string> = {}): Record<string, string> {
  const carrier = { ...headers };
  propagation.inject(context.active(), carrier);
  return carrier;
}

export { SpanKind, SpanStatusCode };
