import type { Span } from '@opentelemetry/api';
import type { IPublishPacket } from 'mqtt';
import type { MessageContextImpl } from './context.js';
import type { RouteStats } from './stats.js';

/**
 * One try of one route for one message. Also the node of the runner's list of tries in flight (for the deadline
 * sweeper and a forced stop): an intrusive list costs two field writes per try where a Set costs two hash-table
 * operations.
 */
export class Try<T> {
  prev: Try<T> | undefined = undefined;
  next: Try<T> | undefined = undefined;
  /** In the list of tries in flight; false once settled (finished, failed or timed out). */
  live = true;
  constructor(
    readonly token: T,
    /** The try's context: it also holds the route, payload and attempt number a retry needs. */
    readonly ctx: MessageContextImpl,
    readonly stats: RouteStats,
    readonly packet: IPublishPacket,
    readonly captures: readonly string[],
    /** `Date.now()` past which the try times out. */
    readonly deadline: number,
    /**
     * `Date.now()` at its start, for the duration histogram. A millisecond clock: `performance.now()` twice per
     * message was ~6% of the dispatch path's instructions. Sub-millisecond tries are rounded to 0 or 1 ms, without
     * bias on average (the histogram's sum stays right).
     */
    readonly startedAt: number,
  ) {}

  /**
   * The try's CONSUMER span while it is open (a {@link TracedTry}); `undefined` once ended, and always on a plain
   * Try. Declared only, so a plain Try has no such field: one fewer store per message on the untraced path.
   */
  declare span: Span | undefined;
}

/** A try with a span (a tracing SDK is registered). */
export class TracedTry<T> extends Try<T> {
  constructor(
    token: T,
    ctx: MessageContextImpl,
    stats: RouteStats,
    packet: IPublishPacket,
    captures: readonly string[],
    deadline: number,
    startedAt: number,
    span: Span,
  ) {
    super(token, ctx, stats, packet, captures, deadline, startedAt);
    this.span = span;
  }
}
