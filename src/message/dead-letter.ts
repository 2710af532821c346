import type { IPublishPacket } from 'mqtt';
import type { ErrorCode } from '../errors.js';
import type { PublishOptions, RouteInfo } from '../types.js';

/** Why a message is dead-lettered. */
export interface DeadLetterReason {
  readonly code: ErrorCode;
  readonly message: string;
  /** Handler tries made; 0 when the payload was refused before any try. */
  readonly attempts: number;
}

/** The JSON body published to the dead-letter topic. Its `version` changes only with a breaking change. */
export interface DeadLetterEnvelope {
  readonly routemq: 'dead-letter';
  readonly version: 1;
  readonly route: string;
  readonly topic: string;
  readonly qos: number;
  readonly retain: boolean;
  readonly attempts: number;
  readonly error: { readonly code: ErrorCode; readonly message: string };
  readonly failedAt: string;
  /** `utf8` when the payload is valid UTF-8 text, else `base64`. */
  readonly payloadEncoding: 'utf8' | 'base64';
  readonly payload: string;
  /** Size of the original payload in bytes. */
  readonly payloadBytes: number;
  /** True when only the first {@link TRUNCATE_BYTES} bytes are kept (payloads over the size limit). */
  readonly payloadTruncated: boolean;
}

/** How much of an oversized payload the envelope keeps. */
export const TRUNCATE_BYTES = 1024;

/** The dead-letter topic of a route: its own `deadLetterTopic`, else `<prefix>/<route name>`. */
export function deadLetterTopicFor(route: RouteInfo & { readonly deadLetterTopic?: string }, prefix: string): string {
  return route.deadLetterTopic ?? `${prefix}/${route.name}`;
}

/**
 * Build the dead-letter message: a JSON envelope, plus the same facts as v5 user properties so a consumer can
 * route on them without parsing.
 */
export function buildDeadLetter(
  packet: IPublishPacket,
  route: RouteInfo,
  reason: DeadLetterReason,
  now: Date = new Date(),
): { payload: string; options: PublishOptions } {
  const raw = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
  const truncated = reason.code === 'RMQ_ERR_PAYLOAD_TOO_LARGE';
  const kept = truncated ? raw.subarray(0, TRUNCATE_BYTES) : raw;
  const utf8 = !truncated && reason.code !== 'RMQ_ERR_PAYLOAD_NOT_UTF8';
  const envelope: DeadLetterEnvelope = {
    routemq: 'dead-letter',
    version: 1,
    route: route.pattern,
    topic: packet.topic,
    qos: packet.qos,
    retain: packet.retain,
    attempts: reason.attempts,
    error: { code: reason.code, message: reason.message },
    failedAt: now.toISOString(),
    payloadEncoding: utf8 ? 'utf8' : 'base64',
    payload: kept.toString(utf8 ? 'utf8' : 'base64'),
    payloadBytes: raw.length,
    payloadTruncated: truncated,
  };
  return {
    payload: JSON.stringify(envelope),
    options: {
      qos: 1,
      properties: {
        contentType: 'application/json',
        userProperties: {
          'routemq-original-topic': packet.topic,
          'routemq-route': route.pattern,
          'routemq-error-code': reason.code,
          'routemq-error-message': reason.message.slice(0, 512),
          'routemq-attempts': String(reason.attempts),
        },
      },
    },
  };
}
