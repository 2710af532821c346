import type { Span, Tracer } from '@opentelemetry/api';
import type { IPublishPacket } from 'mqtt';
import type { Logger } from '../logger.js';
import type { RouteDefinition } from '../router/route-table.js';
import type { OutgoingPayload, PublishOptions } from '../types.js';
import { MessageContextImpl } from './context.js';
import type { Publisher } from './context.js';
import { publishWithSpan } from './tracing.js';

/**
 * The context of a try that has a span (an SDK is registered): `publish` makes a PRODUCER span and carries its
 * context in the message's user properties. A subclass, so the untraced path keeps its one context shape.
 */
export class TracedMessageContext extends MessageContextImpl {
  readonly #tracer: Tracer;
  readonly #span: Span;
  readonly #send: Publisher;

  constructor(
    packet: IPublishPacket,
    route: RouteDefinition,
    captures: readonly string[],
    payload: unknown,
    attempt: number,
    publish: Publisher,
    logger: Logger,
    tracer: Tracer,
    span: Span,
  ) {
    super(packet, route, captures, payload, attempt, publish, logger);
    this.#tracer = tracer;
    this.#span = span;
    this.#send = publish;
  }

  override publish(topic: string, payload: OutgoingPayload, options?: PublishOptions): Promise<void> {
    return publishWithSpan(this.#tracer, this.#span, this.#send, topic, payload, options);
  }
}
