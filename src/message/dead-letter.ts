import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket } from 'mqtt';
import type { ErrorCode } from '../errors.js';
import type { PublishOptions, PublishProperties, RouteInfo } from '../types.js';

/** Why a message is dead-lettered. */
export interface DeadLetterReason {
  readonly code: ErrorCode;
  readonly message: string;
  /** Tries made; a payload refused by its decode or schema counts one (it is never retried). */
  readonly attempts: number;
  /** The last failure, for its stack. */
  readonly error?: unknown;
}

/** Where a dead letter was made: the instance, and the worker pool and slot (`main` and no slot in the main process). */
export interface DeadLetterOrigin {
  readonly instance: string;
  readonly pool: string;
  readonly slot?: number;
}

/**
 * The original message's MQTT v5 properties, kept so the dead letter can be answered or replayed as it was.
 * Binary values are base64; user properties are `[key, value]` pairs in their original order, repeated keys kept.
 */
export interface DeadLetterProperties {
  readonly payloadFormatIndicator?: boolean;
  readonly messageExpiryInterval?: number;
  readonly contentType?: string;
  readonly responseTopic?: string;
  /** Base64. */
  readonly correlationData?: string;
  readonly userProperties?: readonly (readonly [string, string])[];
}

/**
 * A dead letter: what the store keeps, and the JSON body published to the dead-letter topic. Its `version`
 * changes only with a breaking change; fields are only ever added.
 */
export interface DeadLetterEnvelope {
  readonly routemq: 'dead-letter';
  readonly version: 1;
  /** The store's id (`routemq dlq show <id>`). */
  readonly id: string;
  /** The route's pattern. */
  readonly route: string;
  readonly topic: string;
  readonly qos: number;
  readonly retain: boolean;
  readonly attempts: number;
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly stack?: string };
  readonly failedAt: string;
  readonly instance?: string;
  readonly pool?: string;
  readonly slot?: number;
  /** The dead-letter topic of the route (where the MQTT copy goes). */
  readonly dlq?: string;
  /** `utf8` when the payload is valid UTF-8 text, else `base64` (so the original bytes are kept exactly). */
  readonly payloadEncoding: 'utf8' | 'base64';
  readonly payload: string;
  /** Size of the original payload in bytes. */
  readonly payloadBytes: number;
  /**
   * True when `payload` holds only the first bytes of the original: in an MQTT copy cut to the broker's maximum
   * packet size (or `ROUTEMQ_DLQ_MQTT_MAX_BYTES`). The store always keeps the whole payload.
   */
  readonly payloadTruncated: boolean;
  /** The original's v5 properties, when it had any. */
  readonly properties?: DeadLetterProperties;
  /**
   * The trace context of the span of the try that dead-lettered the message, as the app's OpenTelemetry propagator
   * wrote it (W3C: `traceparent`, and `tracestate` if any). Only when a tracing SDK was registered. The MQTT copy
   * carries the same fields as user properties, so a dead-letter consumer's span joins the trace. (The original's
   * own `traceparent`, if it had one, stays in `properties.userProperties`, and a replay sends that one.)
   */
  readonly traceContext?: Readonly<Record<string, string>>;
}

/** Longest stack kept in an envelope, in characters. */
export const STACK_CHARS = 2000;

/** The dead-letter topic of a route: its own `deadLetterTopic`, else `<prefix>/<route name>`. */
export function deadLetterTopicFor(route: RouteInfo & { readonly deadLetterTopic?: string }, prefix: string): string {
  return route.deadLetterTopic ?? `${prefix}/${route.name}`;
}

/** A new dead-letter id: sortable by time (base-36 milliseconds), then 8 random hex digits. */
export function newDeadLetterId(now: number = Date.now()): string {
  return `${now.toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
}

/** Build the whole dead letter of `packet`: the exact payload, every v5 property, where and why it failed. */
export function buildDeadLetter(
  packet: IPublishPacket,
  route: RouteInfo & { readonly deadLetterTopic?: string },
  reason: DeadLetterReason,
  options: {
    readonly dlqPrefix: string;
    readonly origin?: DeadLetterOrigin;
    readonly now?: Date;
    /** See {@link DeadLetterEnvelope.traceContext}. */
    readonly traceContext?: Readonly<Record<string, string>>;
  },
): DeadLetterEnvelope {
  const raw = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
  const now = options.now ?? new Date();
  const utf8 = isUtf8(raw);
  const stack = reason.error instanceof Error ? reason.error.stack?.slice(0, STACK_CHARS) : undefined;
  const properties = keepProperties(packet.properties);
  const origin = options.origin;
  return {
    routemq: 'dead-letter',
    version: 1,
    id: newDeadLetterId(now.getTime()),
    route: route.pattern,
    topic: packet.topic,
    qos: packet.qos,
    retain: packet.retain,
    attempts: reason.attempts,
    error: { code: reason.code, message: reason.message, ...(stack !== undefined ? { stack } : {}) },
    failedAt: now.toISOString(),
    ...(origin ? { instance: origin.instance, pool: origin.pool } : {}),
    ...(origin?.slot !== undefined ? { slot: origin.slot } : {}),
    dlq: deadLetterTopicFor(route, options.dlqPrefix),
    payloadEncoding: utf8 ? 'utf8' : 'base64',
    payload: raw.toString(utf8 ? 'utf8' : 'base64'),
    payloadBytes: raw.length,
    payloadTruncated: false,
    ...(properties ? { properties } : {}),
    ...(options.traceContext ? { traceContext: options.traceContext } : {}),
  };
}

/** The original payload bytes of a dead letter. */
export function deadLetterPayload(envelope: DeadLetterEnvelope): Buffer {
  return Buffer.from(envelope.payload, envelope.payloadEncoding === 'base64' ? 'base64' : 'utf8');
}

/** The v5 properties to republish a dead letter with (replay), plus `extra` user properties. */
export function originalProperties(
  envelope: DeadLetterEnvelope,
  extra: readonly (readonly [string, string])[] = [],
): PublishProperties {
  const p = envelope.properties ?? {};
  const user: Record<string, string | string[]> = {};
  for (const [key, value] of [...(p.userProperties ?? []), ...extra]) {
    const had = user[key];
    user[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return {
    ...(p.payloadFormatIndicator !== undefined ? { payloadFormatIndicator: p.payloadFormatIndicator } : {}),
    ...(p.messageExpiryInterval !== undefined ? { messageExpiryInterval: p.messageExpiryInterval } : {}),
    ...(p.contentType !== undefined ? { contentType: p.contentType } : {}),
    ...(p.responseTopic !== undefined ? { responseTopic: p.responseTopic } : {}),
    ...(p.correlationData !== undefined ? { correlationData: Buffer.from(p.correlationData, 'base64') } : {}),
    ...(Object.keys(user).length > 0 ? { userProperties: user } : {}),
  };
}

/** The MQTT copy of a dead letter, sized to fit a packet limit. */
export interface DeadLetterMessage {
  readonly topic: string;
  readonly payload: string;
  readonly options: PublishOptions;
  /** The payload was cut to fit. */
  readonly truncated: boolean;
  /** Bytes of the whole PUBLISH packet, as estimated. */
  readonly packetBytes: number;
}

/**
 * The MQTT copy of `envelope` on `topic`: the JSON envelope, plus the same facts as v5 user properties so a
 * consumer can route on them without parsing, and the envelope's `traceContext` fields (`traceparent`, …). When the packet would exceed `maxPacketBytes`, the error's stack
 * is left out and the payload in the envelope is cut (and `payloadTruncated` set) until it fits; `undefined` when not even an empty payload fits.
 */
export function deadLetterMessage(
  envelope: DeadLetterEnvelope,
  topic: string,
  maxPacketBytes: number,
): DeadLetterMessage | undefined {
  const options: PublishOptions = {
    qos: 1,
    properties: {
      contentType: 'application/json',
      userProperties: {
        'routemq-id': envelope.id,
        'routemq-original-topic': envelope.topic,
        'routemq-route': envelope.route,
        'routemq-error-code': envelope.error.code,
        'routemq-error-message': envelope.error.message.slice(0, 512),
        'routemq-attempts': String(envelope.attempts),
        ...envelope.traceContext,
      },
    },
  };
  const overhead = packetOverhead(topic, options);
  const whole = JSON.stringify(envelope);
  const wholeBytes = overhead + Buffer.byteLength(whole);
  if (wholeBytes <= maxPacketBytes) {
    return { topic, payload: whole, options, truncated: false, packetBytes: wholeBytes };
  }
  // Cut the original bytes, re-encode, measure; shrink by the overshoot until it fits (JSON escapes make the
  // encoded size non-linear, so a few rounds may be needed). The stack goes first: the store keeps it.
  const raw = deadLetterPayload(envelope);
  const { stack: _stack, ...error } = envelope.error;
  let keep = raw.length;
  for (let round = 0; round < 32 && keep >= 0; round++) {
    const cut = raw.subarray(0, keep);
    const utf8 = envelope.payloadEncoding === 'utf8' && isUtf8(cut);
    const body = JSON.stringify({
      ...envelope,
      error,
      payloadEncoding: utf8 ? 'utf8' : 'base64',
      payload: cut.toString(utf8 ? 'utf8' : 'base64'),
      payloadTruncated: true,
    });
    const bytes = overhead + Buffer.byteLength(body);
    if (bytes <= maxPacketBytes) return { topic, payload: body, options, truncated: true, packetBytes: bytes };
    if (keep === 0) return undefined;
    // Each original byte costs at most 6 encoded bytes (\u00XX); base64 costs 4/3.
    const over = bytes - maxPacketBytes;
    keep = Math.max(0, keep - Math.max(1, Math.ceil(over / (utf8 ? 1 : 4 / 3))));
  }
  return undefined;
}

/**
 * An upper bound of a PUBLISH packet's size without its payload: fixed header (at most 5 bytes), topic, packet
 * id, and the v5 properties (with their length prefix).
 */
function packetOverhead(topic: string, options: PublishOptions): number {
  let props = 0;
  const p = options.properties;
  if (p?.contentType !== undefined) props += 3 + Buffer.byteLength(p.contentType);
  for (const [key, value] of Object.entries(p?.userProperties ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) props += 5 + Buffer.byteLength(key) + Buffer.byteLength(v);
  }
  return 5 + 2 + Buffer.byteLength(topic) + 2 + 4 + props;
}

function keepProperties(p: IPublishPacket['properties']): DeadLetterProperties | undefined {
  if (!p) return undefined;
  const user: [string, string][] = [];
  for (const [key, value] of Object.entries(p.userProperties ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) user.push([key, String(v)]);
  }
  const kept: DeadLetterProperties = {
    ...(p.payloadFormatIndicator !== undefined ? { payloadFormatIndicator: p.payloadFormatIndicator } : {}),
    ...(p.messageExpiryInterval !== undefined ? { messageExpiryInterval: p.messageExpiryInterval } : {}),
    ...(p.contentType !== undefined ? { contentType: p.contentType } : {}),
    ...(p.responseTopic !== undefined ? { responseTopic: p.responseTopic } : {}),
    ...(p.correlationData !== undefined ? { correlationData: Buffer.from(p.correlationData).toString('base64') } : {}),
    ...(user.length > 0 ? { userProperties: user } : {}),
  };
  return Object.keys(kept).length > 0 ? kept : undefined;
}
