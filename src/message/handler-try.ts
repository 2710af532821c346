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
  // `declare` fields, assigned in the constructor: a field declaration (with or without an initialiser, and a
  // parameter property too) compiles to a class field (target ES2022), which V8 defines in an initialiser function
  // of its own before the constructor runs: one more call and a define per field, per try (see Job in dispatcher.ts).
  declare prev: Try<T> | undefined;
  declare next: Try<T> | undefined;
  /** In the list of tries in flight; false once settled (finished, failed or timed out). */
  declare live: boolean;
  declare readonly token: T;
  /** The try's context: it also holds the route, payload and attempt number a retry needs. */
  declare readonly ctx: MessageContextImpl;
  declare readonly stats: RouteStats;
  declare readonly packet: IPublishPacket;
  declare readonly captures: readonly string[];
  /** `Date.now()` past which the try times out. */
  declare readonly deadline: number;
  /**
   * `Date.now()` at its start, for the duration histogram. A millisecond clock: `performance.now()` twice per
   * message was ~6% of the dispatch path's instructions. Sub-millisecond tries are rounded to 0 or 1 ms, without
   * bias on average (the histogram's sum stays right).
   */
  declare readonly startedAt: number;

  constructor(
    token: T,
    ctx: MessageContextImpl,
    stats: RouteStats,
    packet: IPublishPacket,
    captures: readonly string[],
    deadline: number,
    startedAt: number,
  ) {
    this.prev = undefined;
    this.next = undefined;
    this.live = true;
    this.token = token;
    this.ctx = ctx;
    this.stats = stats;
    this.packet = packet;
    this.captures = captures;
    this.deadline = deadline;
    this.startedAt = startedAt;
  }

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
