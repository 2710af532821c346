import type { IPublishPacket } from 'mqtt';
import type { Logger } from '../logger.js';
import type { MessageContext, OutgoingPayload, PublishOptions, PublishProperties, QoS, RouteInfo } from '../types.js';

/** Publishes on the process's connection. */
export type Publisher = (topic: string, payload: OutgoingPayload, options?: PublishOptions) => Promise<void>;

/** What one try of one route needs to build its context. */
export interface ContextInit {
  readonly packet: IPublishPacket;
  readonly route: RouteInfo;
  readonly params: Readonly<Record<string, string>>;
  readonly wildcards: readonly string[];
  readonly payload: unknown;
  readonly attempt: number;
  readonly publish: Publisher;
  readonly logger: Logger;
}

/**
 * The {@link MessageContext} of one try. The child logger and the abort signal are made on first use only: most
 * handlers never use them, and they would be the largest allocations on the hot path.
 */
export class MessageContextImpl implements MessageContext {
  readonly topic: string;
  readonly params: Readonly<Record<string, string>>;
  readonly wildcards: readonly string[];
  readonly payload: unknown;
  readonly raw: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly dup: boolean;
  readonly properties: PublishProperties | undefined;
  readonly attempt: number;
  readonly route: RouteInfo;
  #state: Record<string, unknown> | undefined;
  readonly #publish: Publisher;
  readonly #logger: Logger;
  #log: Logger | undefined;
  #controller: AbortController | undefined;
  #abortReason: unknown;

  constructor(init: ContextInit) {
    const { packet } = init;
    this.topic = packet.topic;
    this.params = init.params;
    this.wildcards = init.wildcards;
    this.payload = init.payload;
    this.raw = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.qos = packet.qos;
    this.retain = packet.retain;
    this.dup = packet.dup;
    this.properties = packet.properties;
    this.attempt = init.attempt;
    this.route = init.route;
    this.#publish = init.publish;
    this.#logger = init.logger;
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
