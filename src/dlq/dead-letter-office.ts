import { ErrorCodes, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { deadLetterMessage } from '../message/dead-letter.js';
import type { DeadLetterEnvelope } from '../message/dead-letter.js';
import type { OutgoingPayload, PublishOptions } from '../types.js';
import type { DeadLetterStore, StoreResult, StoreSize } from './store.js';

/** Options of {@link DeadLetterOffice}. */
export interface DeadLetterOfficeOptions {
  readonly store: DeadLetterStore;
  readonly logger: Logger;
  /** Publishes the MQTT copy (the main connection). */
  readonly publish: (topic: string, payload: OutgoingPayload, options: PublishOptions) => Promise<void>;
  /** `ROUTEMQ_DLQ_MQTT_MAX_BYTES`. */
  readonly mqttMaxBytes: number;
  /** The maximum packet size the broker announced in its CONNACK (v5), if any. */
  readonly brokerMaxPacketBytes: () => number | undefined;
}

/** Refused MQTT copies of one route for one reason. */
export interface RefusalCount {
  readonly route: string;
  /** `not-authorised`, `too-large`, `reason-0x..` (another v5 reason code) or `not-connected`. */
  readonly reason: string;
  readonly count: number;
  readonly lastAt: string;
}

/** What `/ready` and `/status` show of the dead letters. */
export interface DeadLetterStatus {
  readonly store: StoreSize;
  /** Dead letters stored since start, per route and code. */
  readonly stored: readonly { readonly route: string; readonly code: string; readonly count: number }[];
  readonly refusals: readonly RefusalCount[];
  /** MQTT copies published with their payload cut to fit the packet limit. */
  readonly truncatedCopies: number;
}

/**
 * The one place dead letters go: first into the durable store (the caller acks the original only once `put`
 * says so), then, without waiting, as an MQTT copy to the route's dead-letter topic for anyone subscribed.
 *
 * The copy is sized to the broker's maximum packet size. A copy the broker refuses (a v5 reason ≥ 0x80, or one
 * that cannot fit) loses nothing, since the store has the dead letter: it is counted per route and reason, and
 * logged once per route and reason with `RMQ_ERR_DLQ_PUBLISH_REFUSED`. The original's ack never waits for the
 * copy's PUBACK, so refused copies can neither hold messages unacked nor wedge the connection.
 */
export class DeadLetterOffice {
  readonly #o: DeadLetterOfficeOptions;
  readonly #stored = new Map<string, { route: string; code: string; count: number }>();
  readonly #refusals = new Map<string, { route: string; reason: string; count: number; lastAt: string }>();
  #truncated = 0;

  constructor(options: DeadLetterOfficeOptions) {
    this.#o = options;
  }

  get store(): DeadLetterStore {
    return this.#o.store;
  }

  /** Store `envelope` durably, then publish its MQTT copy in the background. Never rejects. */
  async put(envelope: DeadLetterEnvelope): Promise<StoreResult> {
    const result = await this.#o.store.put(envelope);
    if (!result.ok) return result;
    const key = `${envelope.route}\u0000${envelope.error.code}`;
    const counted = this.#stored.get(key);
    if (counted) counted.count++;
    else this.#stored.set(key, { route: envelope.route, code: envelope.error.code, count: 1 });
    void this.#publishCopy(envelope);
    return result;
  }

  /** Counts and store size for `/ready`, `/status` and the metrics. */
  status(): DeadLetterStatus {
    return {
      store: this.#o.store.size(),
      stored: [...this.#stored.values()].map((s) => ({ ...s })),
      refusals: [...this.#refusals.values()].map((r) => ({ ...r })),
      truncatedCopies: this.#truncated,
    };
  }

  async #publishCopy(envelope: DeadLetterEnvelope): Promise<void> {
    const topic = envelope.dlq ?? 'routemq/dlq';
    const broker = this.#o.brokerMaxPacketBytes();
    const limit = broker === undefined ? this.#o.mqttMaxBytes : Math.min(broker, this.#o.mqttMaxBytes);
    const message = deadLetterMessage(envelope, topic, limit);
    if (!message) {
      this.#refused(envelope, 'too-large', `not even an empty copy fits in ${limit} bytes`);
      return;
    }
    if (message.truncated) this.#truncated++;
    try {
      await this.#o.publish(topic, message.payload, message.options);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const reason =
        code === 0x87 || code === 0x05
          ? 'not-authorised'
          : code === 0x95
            ? 'too-large'
            : typeof code === 'number'
              ? `reason-0x${code.toString(16)}`
              : 'not-connected';
      this.#refused(envelope, reason, errorMessageOf(err));
    }
  }

  #refused(envelope: DeadLetterEnvelope, reason: string, detail: string): void {
    const key = `${envelope.route}\u0000${reason}`;
    const lastAt = new Date().toISOString();
    const known = this.#refusals.get(key);
    if (known) {
      known.count++;
      known.lastAt = lastAt;
      return;
    }
    this.#refusals.set(key, { route: envelope.route, reason, count: 1, lastAt });
    this.#o.logger.error(
      { code: ErrorCodes.DLQ_PUBLISH_REFUSED, route: envelope.route, dlq: envelope.dlq, reason, id: envelope.id },
      `the broker refused the MQTT copy of a dead letter (${reason}: ${detail}); the dead letter is in the store ` +
        `(routemq dlq ls) and its original was acked. Logged once per route and reason; /status counts them`,
    );
  }
}
