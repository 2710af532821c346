import type { IClientPublishOptions, IPublishPacket } from 'mqtt';
import type { Logger } from './logger.js';

/** MQTT quality of service. */
export type QoS = 0 | 1 | 2;

/** The v5 properties of a received PUBLISH, as MQTT.js parses them. */
export type PublishProperties = NonNullable<IPublishPacket['properties']>;

/** Options of {@link MessageContext.publish}. */
export interface PublishOptions {
  /** @defaultValue 1 */
  qos?: QoS;
  /** @defaultValue false */
  retain?: boolean;
  /** v5 properties (user properties, content type, …). */
  properties?: IClientPublishOptions['properties'];
}

/** A payload to publish: a Buffer or string goes as is, anything else as JSON. */
export type OutgoingPayload = Buffer | string | object | number | boolean | null;

/** What a route handler knows about the route that matched. */
export interface RouteInfo {
  /** The pattern as registered, with the group prefix applied, e.g. `sensors/{id}/telemetry`. */
  readonly pattern: string;
  /** The MQTT filter of the pattern, e.g. `sensors/+/telemetry`. */
  readonly filter: string;
  /** A topic-safe name of the route, used for the dead-letter topic and metrics. */
  readonly name: string;
}

/**
 * The context a handler and its middleware receive for one message.
 *
 * @typeParam Params - the named params of the route's pattern.
 * @typeParam Payload - the payload type: the schema's output when the route has a schema.
 */
export interface MessageContext<Params = Record<string, string>, Payload = unknown> {
  /** The concrete topic the message was published to. */
  readonly topic: string;
  /** Named params from `{name}` levels of the pattern. */
  readonly params: Readonly<Params>;
  /**
   * The values matched by anonymous wildcards, in pattern order: one entry per `+`, and for a trailing `#` one
   * entry holding the rest of the topic joined with `/` (possibly empty).
   */
  readonly wildcards: readonly string[];
  /**
   * The decoded payload: the schema's output when the route has a schema; otherwise parsed JSON when the payload
   * is JSON, else the UTF-8 string, else the raw Buffer.
   */
  readonly payload: Payload;
  /** The raw payload bytes. */
  readonly raw: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** True when the broker marked this delivery as a possible duplicate. */
  readonly dup: boolean;
  /** v5 PUBLISH properties, when present. */
  readonly properties: PublishProperties | undefined;
  /** 1 for the first try; retries count up to the route's `maxAttempts`. */
  readonly attempt: number;
  /** The route that matched. */
  readonly route: RouteInfo;
  /** A pino child logger bound to the route and topic. */
  readonly log: Logger;
  /** Aborts when the handler times out or the process is forced to stop. */
  readonly signal: AbortSignal;
  /** A bag where middleware can leave things for later middleware and the handler. */
  readonly state: Record<string, unknown>;
  /**
   * Publish a message on this process's connection. Resolves when the broker has acked it (QoS≥1) or when it was
   * written (QoS0).
   *
   * @throws RouteMQError `RMQ_ERR_MQTT_NOT_CONNECTED` when the connection is stopping.
   */
  publish(topic: string, payload: OutgoingPayload, options?: PublishOptions): Promise<void>;
}

/** A route handler. Its return value is ignored; a throw or rejection counts as a failure. */
export type Handler<Params = Record<string, string>, Payload = unknown> = (
  ctx: MessageContext<Params, Payload>,
) => unknown;

/**
 * A middleware, in onion order: code before `await next()` runs on the way in, code after it on the way out.
 * Returning without calling `next()` stops the chain (the message counts as handled and is acked).
 */
export type Middleware = (
  ctx: MessageContext<Record<string, string>, unknown>,
  next: () => Promise<void>,
) => Promise<void>;

/** What a `--traffic` module's default export receives (`routemq start --traffic <module>`). */
export interface TrafficTools {
  readonly publish: (topic: string, payload: OutgoingPayload, options?: PublishOptions) => Promise<void>;
  readonly signal: AbortSignal;
  readonly log: Logger;
}
