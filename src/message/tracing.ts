// OpenTelemetry spans of message handling, through @opentelemetry/api only: the app registers an SDK (or none).
// With none registered, the API hands out no-op spans, but even those cost a context, a closure and property
// lookups per message on the tuned QoS1 path. So the runner reads the last look at the global tracer provider (taken
// again at most once a second, off the hot path) and, with no SDK, takes a path that does no tracing work at all.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, TextMapGetter, Tracer } from '@opentelemetry/api';
import type { IPublishPacket } from 'mqtt';
import { RouteMQError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { RouteDefinition } from '../router/route-table.js';
import type { OutgoingPayload, PublishOptions } from '../types.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_MESSAGING_SYSTEM_NAME,
  ATTR_ROUTEMQ_ATTEMPT,
  ATTR_ROUTEMQ_OUTCOME,
  ATTR_ROUTEMQ_ROUTE,
  MESSAGING_SYSTEM_MQTT,
  OPERATION_NAME_PUBLISH,
  OPERATION_TYPE_PROCESS,
  OPERATION_TYPE_SEND,
} from './trace-attributes.js';
import type { TryOutcome } from './trace-attributes.js';

/** The instrumentation scope name of RouteMQ's tracer. */
export const TRACER_NAME = 'routemq';

/** How often the global tracer provider is looked at again: an SDK registered later is used within this long. */
export const TRACING_RECHECK_MS = 1000;

/**
 * The last look at the global tracer provider: the registered SDK's tracer (`undefined`: none), and the
 * `Date.now()` from which to look again. The hot path (`RouteRunner.run`) reads `tracer` only; the runner's sweeper
 * calls {@link refreshTracing} when `checkAt` has passed (BENCHMARKS.md, finding 21).
 */
export const tracingState: { tracer: Tracer | undefined; checkAt: number } = { tracer: undefined, checkAt: 0 };

/** Look at the global tracer provider now; the next look is due {@link TRACING_RECHECK_MS} later. */
export function refreshTracing(now: number): void {
  tracingState.checkAt = now + TRACING_RECHECK_MS;
  tracingState.tracer = registeredTracer();
}

/**
 * The tracer of the registered SDK, or `undefined` when none is registered (then do no tracing work at all).
 * The global provider is looked at again once `now` passes the next check.
 *
 * @param now - `Date.now()` as the caller read it.
 */
export function activeTracer(now: number): Tracer | undefined {
  if (now >= tracingState.checkAt) refreshTracing(now);
  return tracingState.tracer;
}

/** Forget the last look at the global provider (tests that register and unregister SDKs). */
export function resetTracingCheck(): void {
  tracingState.checkAt = 0;
  tracingState.tracer = undefined;
}

/**
 * The API's global provider is a ProxyTracerProvider whose delegate is the SDK's provider once one is registered
 * (`trace.setGlobalTracerProvider`, which every SDK's `register()` calls); `getDelegateTracer` is `undefined`
 * until then. Duck-typed: another copy of the API (another compatible version in node_modules) may have made it.
 */
function registeredTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider() as { getDelegateTracer?: (name: string) => Tracer | undefined };
  if (typeof provider.getDelegateTracer !== 'function') return trace.getTracer(TRACER_NAME);
  return provider.getDelegateTracer(TRACER_NAME);
}

/** MQTT v5 user properties; MQTT.js gives a repeated key as an array of its values. */
type UserProperties = Record<string, string | string[]>;

/** Reads propagation fields (W3C `traceparent`, `tracestate`, or the app's propagator's) from user properties. */
const userPropertiesGetter: TextMapGetter<UserProperties> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/**
 * The context a received message carries in its v5 user properties, extracted by the app's configured propagator,
 * on top of the root context (never the ambient one: a socket callback may run in an unrelated span's context).
 * The root context when the message has none (MQTT 3.1.1 has no user properties).
 */
export function extractMessageContext(packet: IPublishPacket): Context {
  const user = packet.properties?.userProperties;
  return user ? propagation.extract(ROOT_CONTEXT, user, userPropertiesGetter) : ROOT_CONTEXT;
}

/**
 * The propagation fields of `span` (W3C: `traceparent` and, if any, `tracestate`), as the app's propagator writes
 * them; `undefined` when it writes none (no propagator registered).
 */
export function traceCarrier(span: Span, parent: Context = ROOT_CONTEXT): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  for (const _ in carrier) return carrier;
  return undefined;
}

/** `options` with `carrier` added to its user properties (a copy: the caller's object is not changed). */
export function withUserProperties(
  options: PublishOptions | undefined,
  carrier: Record<string, string>,
): PublishOptions {
  const properties = options?.properties;
  return { ...options, properties: { ...properties, userProperties: { ...properties?.userProperties, ...carrier } } };
}

/**
 * Start the CONSUMER span of one try of `route` for `packet`, a child of the context the message carries. Its name
 * is `process <route pattern>` (semantic conventions: operation, then the low-cardinality destination template).
 * Returns the span and the context to run the handler in.
 */
export function startProcessSpan(
  tracer: Tracer,
  route: RouteDefinition,
  packet: IPublishPacket,
  attempt: number,
): { readonly span: Span; readonly context: Context } {
  const parent = extractMessageContext(packet);
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM_MQTT,
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_MQTT,
    [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE_PROCESS,
    [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_TYPE_PROCESS,
    [ATTR_MESSAGING_DESTINATION_NAME]: packet.topic,
    [ATTR_MESSAGING_DESTINATION_TEMPLATE]: route.pattern,
    [ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME]: route.mqttTopic,
    [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: packet.payload.length,
    [ATTR_ROUTEMQ_ROUTE]: route.pattern,
    [ATTR_ROUTEMQ_ATTEMPT]: attempt,
  };
  if (route.group !== undefined) attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = route.group;
  const span = tracer.startSpan(
    `${OPERATION_TYPE_PROCESS} ${route.pattern}`,
    { kind: SpanKind.CONSUMER, attributes },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** A failure to record on a span: its stable code, and the error (or message) itself. */
export interface SpanFailure {
  readonly code: ErrorCode;
  readonly error: unknown;
}

/**
 * End a try's span with its `routemq.outcome`; a failed try records the exception, sets `error.type` and the status
 * ERROR, both with the RMQ code (the message goes to the exception event only).
 */
export function endTrySpan(span: Span, outcome: TryOutcome, failure?: SpanFailure): void {
  span.setAttribute(ATTR_ROUTEMQ_OUTCOME, outcome);
  if (failure) recordFailure(span, failure.code, failure.error);
  span.end();
}

function recordFailure(span: Span, code: string, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setAttribute(ATTR_ERROR_TYPE, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

/** Publishes on the process's connection (see `Publisher` in context.ts). */
type PublishFn = (topic: string, payload: OutgoingPayload, options?: PublishOptions) => Promise<void>;

/**
 * Publish from a handler as a PRODUCER span (`publish`), child of the handler's active span when it belongs to this
 * try's trace (a span the handler started itself), else of the try's span; its context goes into the message's
 * user properties, so the next consumer's span is its child. On MQTT 3.1.1 MQTT.js drops the properties: the
 * span is kept, the trace does not cross the broker.
 */
export async function publishWithSpan(
  tracer: Tracer,
  trySpan: Span,
  publish: PublishFn,
  topic: string,
  payload: OutgoingPayload,
  options: PublishOptions | undefined,
): Promise<void> {
  const active = context.active();
  const activeSpan = trace.getSpan(active);
  const parent =
    activeSpan && activeSpan.spanContext().traceId === trySpan.spanContext().traceId
      ? active
      : trace.setSpan(active, trySpan);
  const span = tracer.startSpan(
    OPERATION_NAME_PUBLISH,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM_NAME]: MESSAGING_SYSTEM_MQTT,
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_MQTT,
        [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPE_SEND,
        [ATTR_MESSAGING_OPERATION_NAME]: OPERATION_NAME_PUBLISH,
        [ATTR_MESSAGING_DESTINATION_NAME]: topic,
      },
    },
    parent,
  );
  const carrier = traceCarrier(span, parent);
  try {
    await publish(topic, payload, carrier ? withUserProperties(options, carrier) : options);
  } catch (err) {
    // A RouteMQError's code, else the error's class name (semantic conventions' fallback for `error.type`).
    recordFailure(span, err instanceof RouteMQError ? err.code : err instanceof Error ? err.name : 'Error', err);
    throw err;
  } finally {
    span.end();
  }
}
