import { ROOT_CONTEXT, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { IPublishPacket } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { buildDeadLetter, deadLetterMessage } from '../../src/message/dead-letter.js';
import {
  TRACING_RECHECK_MS,
  activeTracer,
  extractMessageContext,
  resetTracingCheck,
  traceCarrier,
  withUserProperties,
} from '../../src/message/tracing.js';
import type { PublishOptions } from '../../src/types.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function packet(userProperties?: Record<string, string | string[]>): IPublishPacket {
  return {
    cmd: 'publish',
    topic: 't/1',
    payload: Buffer.from('{}'),
    qos: 1,
    retain: false,
    dup: false,
    ...(userProperties ? { properties: { userProperties } } : {}),
  };
}

afterEach(() => {
  trace.disable();
  propagation.disable();
  resetTracingCheck();
});

describe('activeTracer', () => {
  it('is undefined while no SDK is registered (the API alone: no tracing work)', () => {
    expect(activeTracer(1_000)).toBeUndefined();
  });

  it('sees an SDK registered later at the next check, at most TRACING_RECHECK_MS on, and its removal the same way', () => {
    const t0 = 1_000_000;
    expect(activeTracer(t0)).toBeUndefined();
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    // The stated limit: until the next check, the last answer stands.
    expect(activeTracer(t0 + TRACING_RECHECK_MS - 1)).toBeUndefined();
    expect(activeTracer(t0 + TRACING_RECHECK_MS)).toBeDefined();
    trace.disable();
    expect(activeTracer(t0 + TRACING_RECHECK_MS + 1)).toBeDefined();
    expect(activeTracer(t0 + 2 * TRACING_RECHECK_MS)).toBeUndefined();
  });
});

describe('propagation through MQTT v5 user properties', () => {
  it('extracts a W3C traceparent, also from a repeated key (MQTT.js gives an array)', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const traceparent = `00-${TRACE_ID}-${SPAN_ID}-01`;
    for (const value of [traceparent, [traceparent, `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`]]) {
      const remote = trace.getSpanContext(extractMessageContext(packet({ traceparent: value })));
      expect(remote).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, isRemote: true });
    }
  });

  it('gives the root context to a message without one (MQTT 3.1.1 has no user properties)', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    expect(extractMessageContext(packet())).toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(extractMessageContext(packet({ other: 'x' })))).toBeUndefined();
  });

  it('writes no carrier when the app registered no propagator', () => {
    const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    expect(traceCarrier(span)).toBeUndefined();
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    expect(traceCarrier(span)).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
  });

  it("adds the carrier to a copy of the caller's options, keeping their user properties", () => {
    const options: PublishOptions = { qos: 0, properties: { contentType: 'a/b', userProperties: { k: 'v' } } };
    const out = withUserProperties(options, { traceparent: 'tp' });
    expect(out).toEqual({ qos: 0, properties: { contentType: 'a/b', userProperties: { k: 'v', traceparent: 'tp' } } });
    expect(options.properties?.userProperties).toEqual({ k: 'v' });
    expect(withUserProperties(undefined, { traceparent: 'tp' })).toEqual({
      properties: { userProperties: { traceparent: 'tp' } },
    });
  });
});

describe('dead letters', () => {
  const route = { name: 'r', pattern: 'r/{id}', shared: false } as never;
  const reason = { code: 'RMQ_ERR_HANDLER_FAILED', message: 'boom', attempts: 1 } as const;

  it('carry the trace context in the envelope and as user properties of the MQTT copy, counted in its size', () => {
    const traceContext = { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` };
    const envelope = buildDeadLetter(packet(), route, reason, { dlqPrefix: 'dlq', traceContext });
    expect(envelope.traceContext).toEqual(traceContext);
    const message = deadLetterMessage(envelope, 'dlq/r', 1_000_000);
    expect(message?.options.properties?.userProperties).toMatchObject(traceContext);
    const without = deadLetterMessage({ ...envelope, traceContext: undefined }, 'dlq/r', 1_000_000);
    expect(without?.options.properties?.userProperties).not.toHaveProperty('traceparent');
    expect((message?.packetBytes ?? 0) - (without?.packetBytes ?? 0)).toBeGreaterThan(traceContext.traceparent.length);
  });

  it('have no trace context without a span', () => {
    expect(buildDeadLetter(packet(), route, reason, { dlqPrefix: 'dlq' })).not.toHaveProperty('traceContext');
  });
});
