import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { driveSample } from '../../src/dev/samples';
import { Worker } from '@temporalio/worker';
import { sendRequest } from '../../src/providers/http';
import { dataConverter as codecFor } from '../../src/temporal/codec';
import { tracingOptions, workflowBundle } from '../../src/temporal/worker';
import { startTracing, type Tracing } from '../../src/telemetry/tracing';
import { invoiceWorkflowId } from '../../src/workflows/definitions';
import { TEST_TENANT } from '../support/access';
import { uniqueId } from '../support/requests';
import { startTestStack, type TestStack } from '../support/stack';
import { eventually } from '../support/wait';

/**
 * The gateway and the worker share this process, and with it the exporter: every span of the invoice is here to read.
 * Tracing is started before the stack (the interceptors find the registered provider) and shut down after, which puts
 * the OpenTelemetry API back to no-op for the next test file this jest worker runs.
 */
describe('tracing: one trace from POST /v1/invoices to the provider requests', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let stack: TestStack;

  beforeAll(async () => {
    tracing = startTracing({
      serviceName: 'payment-orchestrator-test',
      spanProcessor: new SimpleSpanProcessor(exporter),
    });
    stack = await startTestStack({ tracing });
  });
  afterAll(async () => {
    await stack?.stop();
    await tracing?.shutdown();
  });

  it('links the gateway span, the Temporal client, the workflow, its activities and every provider HTTP span', async () => {
    const invoiceId = uniqueId('t');
    const state = await driveSample(stack.api, { provider: 'alfred', direction: 'pay_in', invoiceId });
    expect(state.status).toBe('COMPLETED');
    const workflowId = invoiceWorkflowId(`${TEST_TENANT}_${invoiceId}`);

    const spans = () => exporter.getFinishedSpans();
    const gatewaySpan = spans().find(
      (span) => span.name === 'POST /v1/invoices' && span.attributes['payment.invoice_id'] === invoiceId,
    );
    expect(gatewaySpan).toBeDefined();
    const traceId = gatewaySpan?.spanContext().traceId;

    // The workflow's spans reach the exporter through the worker's sink after each activation: wait for the last ones.
    const activitySpans = await eventually(() => {
      const found = spans().filter(
        (span) => span.name.startsWith('RunActivity:') && span.attributes.temporalWorkflowId === workflowId,
      );
      // The run's span ends with the workflow, after the last event is recorded (an activity): later than COMPLETED.
      const ran = spans().some(
        (span) => span.name === 'RunWorkflow:invoiceWorkflow' && span.spanContext().traceId === traceId,
      );
      return ran && found.some((span) => span.name === 'RunActivity:submit') ? found : undefined;
    });
    const byId = new Map(spans().map((span) => [span.spanContext().spanId, span]));
    const under = (span: ReadableSpan, ancestors: readonly ReadableSpan[]): boolean => {
      for (let at: ReadableSpan | undefined = span; at; at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined) {
        if (ancestors.includes(at)) return true;
      }
      return false;
    };
    const httpSpans = spans().filter(
      (span) => span.attributes['payment.provider'] === 'alfred' && under(span, activitySpans),
    );

    // Each step's provider call is there: the setup steps (KYC, payment method, bank) and the submission.
    expect(activitySpans.map((span) => span.name)).toEqual(
      expect.arrayContaining([
        'RunActivity:kyc',
        'RunActivity:paymentMethod',
        'RunActivity:bank',
        'RunActivity:submit',
      ]),
    );
    expect(httpSpans.length).toBeGreaterThanOrEqual(activitySpans.length);
    // One trace: the Temporal client's start, the workflow run, every activity of it and every provider request.
    const traces = new Set([...activitySpans, ...httpSpans].map((span) => span.spanContext().traceId));
    expect([...traces]).toEqual([traceId]);
    expect(
      spans().some((span) => span.name === 'StartWorkflow:invoiceWorkflow' && span.spanContext().traceId === traceId),
    ).toBe(true);
    expect(
      spans().some((span) => span.name === 'RunWorkflow:invoiceWorkflow' && span.spanContext().traceId === traceId),
    ).toBe(true);
    // Every provider request is under the gateway span, not merely in its trace.
    for (const span of httpSpans) expect(gatewaySpan && under(span, [gatewaySpan])).toBe(true);

    // What tracing adds to history is a header on each scheduled activity; its commands are unchanged, so the history
    // of a traced invoice replays on workers with tracing off and on alike (a deploy may switch it either way).
    const history = await stack.env.temporal.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes);
    expect(scheduled.length).toBeGreaterThan(0);
    for (const event of scheduled) {
      expect(Object.keys(event.activityTaskScheduledEventAttributes?.header?.fields ?? {})).toContain('_tracer-data');
    }
    const dataConverter = codecFor(stack.env.config);
    for (const tracingOn of [false, true]) {
      await Worker.runReplayHistory(
        {
          workflowBundle: await workflowBundle({ tracing: tracingOn }),
          dataConverter,
          ...(tracingOn ? { sinks: tracingOptions(tracing).sinks } : {}),
        },
        history,
        workflowId,
      );
    }
  });

  it('sends the provider span as traceparent on the request, so a provider that traces can join the trace', async () => {
    let received: string | undefined;
    const server = createServer((request, response) => {
      received = request.headers.traceparent as string | undefined;
      response.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await sendRequest('alfred', { method: 'GET', url: `http://127.0.0.1:${port}/probe`, timeoutMs: 5_000 });
    } finally {
      server.close();
    }
    const span = exporter
      .getFinishedSpans()
      .find((s) => s.attributes['server.port'] === port && s.attributes['payment.provider'] === 'alfred');
    expect(span?.attributes['http.response.status_code']).toBe(200);
    expect(received).toBe(`00-${span?.spanContext().traceId}-${span?.spanContext().spanId}-01`);
  });
});
