import type { Span } from '@opentelemetry/api';
import type { IPublishPacket } from 'mqtt';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { StoreResult } from '../dlq/store.js';
import type { DeadLetterInfo } from '../events.js';
import type { Logger } from '../logger.js';
import type { RouteDefinition } from '../router/route-table.js';
import { backoffDelayMs, sleep } from '../util/backoff.js';
import type { Publisher } from './context.js';
import { buildDeadLetter, deadLetterMessage } from './dead-letter.js';
import type { DeadLetterEnvelope, DeadLetterOrigin, DeadLetterReason } from './dead-letter.js';
import type { RouteStats } from './stats.js';
import { traceCarrier } from './tracing.js';

/** Stores a dead letter durably. Resolves once it is durable, or with why not. Never rejects. */
export type DeadLetterSink = (envelope: DeadLetterEnvelope) => Promise<StoreResult>;

/** What {@link DeadLetterWriter} needs from its surroundings. */
export interface DeadLetterWriterOptions {
  /** The dead-letter topic's prefix (`ROUTEMQ_DLQ_PREFIX`), for routes without a `deadLetterTopic`. */
  readonly dlqPrefix: string;
  readonly publish: Publisher;
  readonly logger: Logger;
  /** Aborts when the process is forced to stop: a put waiting to be retried gives up (the message stays unacked). */
  readonly forceSignal: AbortSignal;
  /**
   * Where dead letters go: resolves once the dead letter is durable, or says why not (the put is then retried).
   * Without it (a Dispatcher built by hand), the dead letter is only published to the dead-letter topic, and a
   * failed publish leaves the original unacked.
   */
  readonly deadLetters?: DeadLetterSink | undefined;
  /** Where this process is, for the envelope. */
  readonly origin?: DeadLetterOrigin | undefined;
  /** Told of every message dead-lettered (for events and dashboards). Must not throw. */
  readonly onDeadLetter?: ((info: DeadLetterInfo) => void) | undefined;
}

/** Largest dead-letter copy published without a store (`ROUTEMQ_DLQ_MQTT_MAX_BYTES`'s default), bytes. */
const FALLBACK_MQTT_MAX_BYTES = 262_144;
/** Longest wait between two puts of a dead letter the store refused, ms. */
const STORE_RETRY_MAX_MS = 5000;

/**
 * Turns a message that will not be handled into a durable dead letter: builds its envelope, puts it in the store
 * (again and again while the store is full or failing) or, without a store, publishes it, then counts, reports and
 * logs it. The original is acked only once this says `ack`.
 */
export class DeadLetterWriter {
  readonly #o: DeadLetterWriterOptions;

  constructor(options: DeadLetterWriterOptions) {
    this.#o = options;
  }

  /**
   * Dead-letter `packet` for `route` because of `reason`. Resolves `ack` once the dead letter is durable (stored, or
   * published when there is no store), `hold` when it could not be and the original must stay unacked. Never
   * rejects.
   *
   * @param span - the try's span, whose trace context the envelope carries. @defaultValue none
   */
  async write(
    route: RouteDefinition,
    stats: RouteStats,
    packet: IPublishPacket,
    reason: DeadLetterReason,
    span: Span | undefined,
  ): Promise<'ack' | 'hold'> {
    const traceContext = span ? traceCarrier(span) : undefined;
    const envelope = buildDeadLetter(packet, route, reason, {
      dlqPrefix: this.#o.dlqPrefix,
      ...(this.#o.origin ? { origin: this.#o.origin } : {}),
      ...(traceContext ? { traceContext } : {}),
    });
    const dlq = envelope.dlq ?? '';
    const stored = this.#o.deadLetters ? await this.#store(envelope, route) : await this.#publishOnly(envelope);
    if (!stored) return 'hold';
    stats.add('deadLettered');
    this.#o.onDeadLetter?.({
      route: route.pattern,
      topic: packet.topic,
      dlq,
      code: reason.code,
      attempts: reason.attempts,
    });
    this.#o.logger.warn(
      { route: route.pattern, topic: packet.topic, dlq, id: envelope.id, code: reason.code, attempts: reason.attempts },
      `message dead-lettered: ${reason.message}`,
    );
    return 'ack';
  }

  /**
   * Put `envelope` in the store, again and again (backoff up to {@link STORE_RETRY_MAX_MS}) while the store is full
   * or failing: the original stays unacked meanwhile. False when forced to stop first.
   */
  async #store(envelope: DeadLetterEnvelope, route: RouteDefinition): Promise<boolean> {
    const sink = this.#o.deadLetters as DeadLetterSink;
    for (let tries = 0; ; tries++) {
      const result = await sink(envelope);
      if (result.ok) return true;
      if (tries === 0) {
        this.#o.logger.error(
          { code: result.code, route: route.pattern, topic: envelope.topic, id: envelope.id },
          `${result.message}; the message stays unacked and is stored as soon as there is room`,
        );
      }
      try {
        await sleep(backoffDelayMs(tries, { baseMs: 200, maxMs: STORE_RETRY_MAX_MS }), this.#o.forceSignal);
      } catch {
        return false;
      }
    }
  }

  /** No store: publish the dead letter and wait for the broker's ack; false when that failed. */
  async #publishOnly(envelope: DeadLetterEnvelope): Promise<boolean> {
    const topic = envelope.dlq ?? '';
    const message = deadLetterMessage(envelope, topic, FALLBACK_MQTT_MAX_BYTES);
    try {
      if (!message) throw new RouteMQError(ErrorCodes.DLQ_PUBLISH_FAILED, 'The dead letter cannot fit in a packet');
      await this.#o.publish(topic, message.payload, message.options);
      return true;
    } catch (err) {
      this.#o.logger.error(
        { code: ErrorCodes.DLQ_PUBLISH_FAILED, route: envelope.route, topic: envelope.topic, dlq: topic, err },
        'could not publish to the dead-letter topic; the message stays unacked and will be redelivered',
      );
      return false;
    }
  }
}
