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
  readonly signal: AbortSignal;
  readonly publish: Publisher;
  readonly logger: Logger;
}

/**
 * The {@link MessageContext} of one try. The child logger is made on first use only: most handlers never log,
 * and a pino child per message would be the largest allocation on the hot path.
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
  readonly signal: AbortSignal;
  readonly state: Record<string, unknown> = {};
  readonly #publish: Publisher;
  readonly #logger: Logger;
  #log: Logger | undefined;

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
    this.signal = init.signal;
    this.#publish = init.publish;
    this.#logger = init.logger;
  }

  get log(): Logger {
    this.#log ??= this.#logger.child({ route: this.route.pattern, topic: this.topic });
    return this.#log;
  }

  publish(topic: string, payload: OutgoingPayload, options?: PublishOptions): Promise<void> {
    return this.#publish(topic, payload, options);
  }
}
