import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import { resetTracingCheck } from '../../src/message/tracing.js';
import { useFixture } from '../helpers/fixture.js';
import { collect, uniqueName, waitUntil } from '../helpers/mqtt.js';

const idOf = (params: Readonly<Record<string, string>>): string => params['id'] ?? '';

// Main-process routes of an in-process app, with the SDK registered in this (the test) process: an in-memory
// exporter, the W3C propagator and the AsyncLocalStorage context manager, as an app's tracing set-up would.
describe('OpenTelemetry tracing (main-process routes)', () => {
  const f = useFixture();
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const testTracer = (): ReturnType<typeof trace.getTracer> => trace.getTracer('test');
  const run = uniqueName('otel');
  const seenByB: { id: string; traceparent: unknown; appSpanParent: string | undefined }[] = [];
  let client: MqttClient;
  let dlq: Awaited<ReturnType<typeof collect>>;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    resetTracingCheck();
    await f.app(
      (router) => {
        router.on(`${run}/{id}/a`, async (ctx) => {
          await ctx.publish(`${run}/${idOf(ctx.params)}/b`, { from: 'a' }, { qos: 1 });
        });
        router.on(`${run}/{id}/b`, (ctx) => {
          // A span the handler starts itself is a child of the try's span (the handler runs in its context).
          testTracer().startActiveSpan('b work', (span) => {
            seenByB.push({
              id: idOf(ctx.params),
              traceparent: ctx.properties?.userProperties?.['traceparent'],
              appSpanParent: (span as unknown as ReadableSpan).parentSpanContext?.spanId,
            });
            span.end();
          });
        });
        router.on(
          `${run}/{id}/fails`,
          () => {
            throw new Error('always fails');
          },
          { maxAttempts: 2 },
        );
        router.on(`${run}/{id}/strict`, () => undefined, { schema: z.object({ v: z.number() }) });
      },
      { ROUTEMQ_RETRY_BASE_MS: '10', ROUTEMQ_RETRY_MAX_MS: '20' },
    );
    client = await f.connect();
    dlq = await collect(client, 'routemq/dlq/#');
  });

  afterAll(async () => {
    trace.disable();
    propagation.disable();
    context.disable();
    resetTracingCheck();
    await provider.shutdown();
  });

  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  const spanNamed = (name: string, topic: string): ReadableSpan | undefined =>
    spans().find((s) => s.name === name && s.attributes['messaging.destination.name'] === topic);
  const parentOf = (span: ReadableSpan | undefined): string | undefined => span?.parentSpanContext?.spanId;

  it('shows publish → handler → ctx.publish → next handler as one trace, each span the child of the one before', async () => {
    // The "upstream producer": a span of this process whose context goes into the message's user properties.
    const producer = testTracer().startSpan('upstream publish', { kind: SpanKind.PRODUCER });
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), producer), carrier);
    await client.publishAsync(`${run}/1/a`, '{"v":1}', { qos: 1, properties: { userProperties: carrier } });
    producer.end();
    await waitUntil(() => spanNamed(`process ${run}/{id}/b`, `${run}/1/b`) !== undefined, 20_000, 'the span of B');

    const traceId = producer.spanContext().traceId;
    const a = spanNamed(`process ${run}/{id}/a`, `${run}/1/a`);
    const publish = spans().find((s) => s.kind === SpanKind.PRODUCER && s.name === 'publish');
    const b = spanNamed(`process ${run}/{id}/b`, `${run}/1/b`);
    const work = spans().find((s) => s.name === 'b work');
    for (const span of [a, publish, b, work]) expect(span?.spanContext().traceId).toBe(traceId);
    expect(parentOf(a)).toBe(producer.spanContext().spanId);
    expect(parentOf(publish)).toBe(a?.spanContext().spanId);
    expect(parentOf(b)).toBe(publish?.spanContext().spanId);
    expect(parentOf(work)).toBe(b?.spanContext().spanId);
    // B received the producer span's context as a W3C traceparent user property.
    expect(seenByB.find((s) => s.id === '1')?.traceparent).toBe(`00-${traceId}-${publish?.spanContext().spanId}-01`);

    expect(a?.kind).toBe(SpanKind.CONSUMER);
    expect(a?.attributes).toMatchObject({
      'messaging.system': 'mqtt',
      'messaging.system.name': 'mqtt',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': `${run}/1/a`,
      'messaging.destination.template': `${run}/{id}/a`,
      'messaging.destination.subscription.name': `${run}/+/a`,
      'messaging.message.body.size': 7,
      'routemq.route': `${run}/{id}/a`,
      'routemq.attempt': 1,
      'routemq.outcome': 'handled',
    });
    expect(a?.status.code).toBe(SpanStatusCode.UNSET);
    expect(publish?.attributes).toMatchObject({
      'messaging.system': 'mqtt',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': `${run}/1/b`,
    });
  });

  it('gives each try its own span, records the failure with the RMQ code, and carries the trace into the dead letter', async () => {
    // No traceparent: the consumer span starts a trace of its own.
    await client.publishAsync(`${run}/2/fails`, '{"v":2}', { qos: 1 });
    const topic = `${run}/2/fails`;
    const deadLetter = (): (typeof dlq.messages)[number] | undefined =>
      dlq.messages.find((m) => (JSON.parse(m.payload.toString()) as DeadLetterEnvelope).topic === topic);
    await waitUntil(() => deadLetter() !== undefined, 20_000, 'the dead letter');
    await waitUntil(
      () =>
        spans().some(
          (s) =>
            s.attributes['routemq.outcome'] === 'dead_lettered' && s.attributes['messaging.destination.name'] === topic,
        ),
      20_000,
      'the span of the last try',
    );
    const tries = spans()
      .filter((s) => s.attributes['messaging.destination.name'] === topic)
      .sort((x, y) => Number(x.attributes['routemq.attempt']) - Number(y.attributes['routemq.attempt']));
    expect(tries.map((s) => [s.attributes['routemq.attempt'], s.attributes['routemq.outcome']])).toEqual([
      [1, 'retried'],
      [2, 'dead_lettered'],
    ]);
    for (const span of tries) {
      expect(parentOf(span)).toBeUndefined();
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'RMQ_ERR_HANDLER_FAILED' });
      expect(span.attributes['error.type']).toBe('RMQ_ERR_HANDLER_FAILED');
      expect(span.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe('always fails');
    }
    const last = tries[1]!.spanContext();
    const traceparent = `00-${last.traceId}-${last.spanId}-01`;
    const message = deadLetter()!;
    expect((JSON.parse(message.payload.toString()) as DeadLetterEnvelope).traceContext).toEqual({ traceparent });
    expect((message.properties as { userProperties?: Record<string, unknown> }).userProperties?.['traceparent']).toBe(
      traceparent,
    );
  });

  it('gives a payload refused before any try a span of attempt 0', async () => {
    const topic = `${run}/3/strict`;
    await client.publishAsync(topic, 'not json', { qos: 1 });
    await waitUntil(() => spanNamed(`process ${run}/{id}/strict`, topic) !== undefined, 20_000, 'the span');
    const span = spanNamed(`process ${run}/{id}/strict`, topic);
    expect(span?.attributes).toMatchObject({
      'routemq.attempt': 0,
      'routemq.outcome': 'dead_lettered',
      'error.type': 'RMQ_ERR_PAYLOAD_NOT_JSON',
    });
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('does no tracing work once no SDK is registered: no spans, no traceparent added by ctx.publish', async () => {
    trace.disable();
    resetTracingCheck();
    const before = spans().length;
    await client.publishAsync(`${run}/4/a`, '{"v":4}', { qos: 1 });
    await waitUntil(() => seenByB.some((s) => s.id === '4'), 20_000, 'B to handle message 4');
    expect(seenByB.find((s) => s.id === '4')?.traceparent).toBeUndefined();
    expect(spans().length).toBe(before);
  });

  it('notices an SDK registered while it runs, once messages flow (it looks again once a second)', async () => {
    // No reset of the last look here: the runner's sweeper must find the provider by itself.
    trace.setGlobalTracerProvider(provider);
    const count = (): number => spans().filter((s) => s.name === `process ${run}/{id}/a`).length;
    const before = count();
    let sent = 0;
    await waitUntil(
      async () => {
        if (count() > before) return true;
        await client.publishAsync(`${run}/late-${sent++}/a`, '{"v":5}', { qos: 1 });
        return false;
      },
      20_000,
      'a span after the SDK was registered again',
    );
    expect(sent).toBeGreaterThan(0);
  });
});
