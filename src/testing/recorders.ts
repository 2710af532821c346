import { isUtf8 } from 'node:buffer';
import { pino } from 'pino';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import { topicNameProblem } from '../router/topic-pattern.js';
import type { OutgoingPayload, PublishOptions, QoS } from '../types.js';

/** One log line a handler, a middleware or RouteMQ itself wrote while a test message ran. */
export interface LogLine {
  /** pino's level label: `trace`, `debug`, `info`, `warn`, `error` or `fatal`. */
  readonly level: string;
  /** The message text (pino's `msg`); `''` when the line had none. */
  readonly msg: string;
  /** Every other field of the line: `route` and `topic` on `ctx.log` lines, `err` serialised by pino, … */
  readonly [field: string]: unknown;
}

/** One `ctx.publish` call of a handler or middleware, as the broker would have received it. */
export interface PublishedMessage {
  readonly topic: string;
  /** The payload decoded for assertions: parsed JSON when the bytes are JSON, else the UTF-8 text, else the bytes. */
  readonly payload: unknown;
  /** The bytes that would have been sent (a Buffer or string as is, anything else as JSON). */
  readonly raw: Buffer;
  /** @defaultValue 1, as `ctx.publish` */
  readonly qos: QoS;
  /** @defaultValue false */
  readonly retain: boolean;
  readonly properties: PublishOptions['properties'];
}

/** The bytes `ctx.publish` sends for a payload: the same rule as the MQTT connection's `publish`. */
export function encodePayload(payload: OutgoingPayload): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
}

/** Bytes as a test reads them: JSON when they parse, else UTF-8 text, else the bytes. */
export function decodeForAssertions(raw: Buffer): unknown {
  if (!isUtf8(raw)) return raw;
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Where the recorders put what they see: the test harness points it at the message running now. Lines written
 * with no message running (a handler still busy after its try timed out and its message settled) go to `stray`.
 */
export interface RecordingSink {
  logs: LogLine[];
  published: PublishedMessage[];
}

/**
 * A pino logger at `level` whose lines go, parsed, into `target().logs`. Same logger type as production, so
 * `ctx.log.child(...)`, serialisers and redaction behave as they do there.
 */
export function recordingLogger(level: string, target: () => RecordingSink): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
    },
    {
      write(line: string): void {
        const { msg, ...fields } = JSON.parse(line) as { msg?: unknown; level: string };
        target().logs.push({ ...fields, msg: typeof msg === 'string' ? msg : '' });
      },
    },
  );
}

/**
 * A publisher that records each call into `target().published` and resolves at once (as if the broker acked it).
 *
 * @throws RouteMQError `RMQ_ERR_TOPIC_INVALID` (as a rejection) for a topic the broker would refuse: empty, with a
 *   wildcard or NUL, starting with `$`, or over 65,535 bytes.
 */
export function recordingPublisher(
  target: () => RecordingSink,
): (topic: string, payload: OutgoingPayload, options?: PublishOptions) => Promise<void> {
  return (topic, payload, options = {}) => {
    const problem = topicNameProblem(topic);
    if (problem !== undefined) {
      return Promise.reject(
        new RouteMQError(ErrorCodes.TOPIC_INVALID, `Cannot publish to ${JSON.stringify(topic)}: ${problem}`),
      );
    }
    const raw = encodePayload(payload);
    target().published.push({
      topic,
      payload: decodeForAssertions(raw),
      raw,
      qos: options.qos ?? 1,
      retain: options.retain ?? false,
      properties: options.properties,
    });
    return Promise.resolve();
  };
}
