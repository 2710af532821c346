import type { IPublishPacket } from 'mqtt';
import type { Logger } from '../logger.js';
import { bindCaptures } from '../router/route-table.js';
import type { BoundCaptures, RouteDefinition } from '../router/route-table.js';
import type { MessageContext, OutgoingPayload, PublishOptions, PublishProperties, QoS } from '../types.js';

/** Publishes on the process's connection. */
export type Publisher = (topic: string, payload: OutgoingPayload, options?: PublishOptions) => Promise<void>;

/**
 * The {@link MessageContext} of one try. It keeps the packet and the match and derives the rest on read: the child
 * logger, the abort signal, `params` and `wildcards` are made on first use only. Most handlers never use them, and
 * at tens of thousands of messages a second each allocation per message shows up as garbage-collection time.
 */
export class MessageContextImpl implements MessageContext {
  readonly payload: unknown;
  readonly attempt: number;
  readonly route: RouteDefinition;
  readonly #packet: IPublishPacket;
  readonly #captures: readonly string[];
  #bound: BoundCaptures | undefined;
  #state: Record<string, unknown> | undefined;
  readonly #publish: Publisher;
  readonly #logger: Logger;
  #log: Logger | undefined;
  #controller: AbortController | undefined;
  #abortReason: unknown;

  constructor(
    packet: IPublishPacket,
    route: RouteDefinition,
    captures: readonly string[],
    payload: unknown,
    attempt: number,
    publish: Publisher,
    logger: Logger,
  ) {
    this.#packet = packet;
    this.route = route;
    this.#captures = captures;
    this.payload = payload;
    this.attempt = attempt;
    this.#publish = publish;
    this.#logger = logger;
  }

  get topic(): string {
    return this.#packet.topic;
  }

  get params(): Readonly<Record<string, string>> {
    this.#bound ??= bindCaptures(this.route, this.#captures);
    return this.#bound.params;
  }

  get wildcards(): readonly string[] {
    this.#bound ??= bindCaptures(this.route, this.#captures);
    return this.#bound.wildcards;
  }

  get raw(): Buffer {
    return rawPayload(this.#packet);
  }

  get qos(): QoS {
    return this.#packet.qos;
  }

  get retain(): boolean {
    return this.#packet.retain;
  }

  get dup(): boolean {
    return this.#packet.dup;
  }

  get properties(): PublishProperties | undefined {
    return this.#packet.properties;
  }

  /**
   * Made on first use: most handlers never look at it, and an AbortController per message is measurable on the hot
   * path. A context aborted before anyone asked for the signal hands out an already-aborted one.
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Abort the signal (timeout, forced stop). */
  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  /** Made on first use, like the logger. */
  get state(): Record<string, unknown> {
    this.#state ??= {};
    return this.#state;
  }

  get log(): Logger {
    this.#log ??= this.#logger.child({ route: this.route.pattern, topic: this.topic });
    return this.#log;
  }

  publish(topic: string, payload: OutgoingPayload, options?: PublishOptions): Promise<void> {
    return this.#publish(topic, payload, options);
  }
}

/** A packet's payload as a Buffer (MQTT.js hands out Buffers; a string payload is converted). */
export function rawPayload(packet: IPublishPacket): Buffer {
  return Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
}
