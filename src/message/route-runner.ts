import { context } from '@opentelemetry/api';
import type { Span, Tracer } from '@opentelemetry/api';
import type { IPublishPacket } from 'mqtt';
import { ErrorCodes, RouteMQError, errorCodeOf, errorMessageOf, isFinalCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RouteDefinition } from '../router/route-table.js';
import { backoffDelayMs, sleep } from '../util/backoff.js';
import { IntrusiveList } from '../util/intrusive-list.js';
import { MessageContextImpl, rawPayload } from './context.js';
import { TracedTry, Try } from './handler-try.js';
import type { Publisher } from './context.js';
import type { DeadLetterReason } from './dead-letter.js';
import { DeadLetterWriter } from './dead-letter-writer.js';
import type { DeadLetterWriterOptions } from './dead-letter-writer.js';
import { decodePayload } from './decode-payload.js';
import type { DecodeResult } from './decode-payload.js';
import type { PayloadLimits } from './decode-payload.js';
import type { MessageStats, RouteStats } from './stats.js';
import type { TryOutcome } from './trace-attributes.js';
import { TracedMessageContext } from './traced-context.js';
import { activeTracer, endTrySpan, refreshTracing, startProcessSpan, tracingState } from './tracing.js';

/** Process-wide defaults a route can override. */
export interface RunnerDefaults {
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly dlqPrefix: string;
}

/**
 * What {@link RouteRunner} needs from its surroundings; `onDeadLetter`, `deadLetters` and `origin` are the
 * {@link DeadLetterWriterOptions} of its dead letters.
 */
export interface RouteRunnerOptions<T> extends Pick<
  DeadLetterWriterOptions,
  'onDeadLetter' | 'deadLetters' | 'origin'
> {
  readonly defaults: RunnerDefaults;
  readonly limits: PayloadLimits;
  readonly publish: Publisher;
  readonly stats: MessageStats;
  readonly logger: Logger;
  /** Aborts when the process is forced to stop: tries end, nothing more is retried or dead-lettered. */
  readonly forceSignal: AbortSignal;
  /**
   * Told the outcome of each {@link RouteRunner.run}, once, with the token given to it, and `Date.now()` as read
   * when it settled (so the caller needs no clock read of its own). Must not throw.
   */
  readonly onSettled: (token: T, outcome: RunOutcome, now: number) => void;
}

/** How often handler deadlines are checked. */
const SWEEP_MS = 50;

/** `ack`: the message is done (handled or dead-lettered). `hold`: leave it unacked so the broker redelivers it. */
export type RunOutcome = 'ack' | 'hold';

/**
 * Runs one route for one message: decode, try up to `maxAttempts` times with capped backoff and a timeout per
 * try, then dead-letter. A payload that fails decoding is dead-lettered at once (retrying cannot fix bytes).
 *
 * The outcome of each run goes to `onSettled` with the caller's token, exactly once, never by a rejection. The
 * success path allocates no closure and one promise besides the handler's own: at tens of thousands of messages a
 * second, each closure, promise and await layer per message showed up in profiles as garbage-collection time.
 *
 * @typeParam T - what the caller hands to {@link run} to recognise the run in `onSettled`.
 */
export class RouteRunner<T> {
  readonly #o: RouteRunnerOptions<T>;
  /** Tries in flight, oldest first. */
  readonly #tries = new IntrusiveList<Try<T>>();
  #sweeping = false;
  #sweeper: NodeJS.Timeout | undefined;
  /** Each route's stats by route id: an array read per message instead of a Map lookup by pattern. */
  readonly #statsById: RouteStats[] = [];
  readonly #deadLetters: DeadLetterWriter;

  constructor(options: RouteRunnerOptions<T>) {
    this.#o = options;
    this.#deadLetters = new DeadLetterWriter({
      dlqPrefix: options.defaults.dlqPrefix,
      publish: options.publish,
      logger: options.logger,
      forceSignal: options.forceSignal,
      deadLetters: options.deadLetters,
      origin: options.origin,
      onDeadLetter: options.onDeadLetter,
    });
    refreshTracing(Date.now());
    const force = options.forceSignal;
    force.addEventListener('abort', () => {
      for (let t = this.#tries.first; t; t = t.next) t.ctx.abort(force.reason);
    });
  }

  /**
   * Run `route` for `packet`; its outcome goes to `onSettled(token, …)`. Never throws.
   *
   * @param now - `Date.now()` as read by the caller, so the first try's deadline costs no second clock read.
   */
  run(route: RouteDefinition, packet: IPublishPacket, captures: readonly string[], token: T, now: number): void {
    const stats = (this.#statsById[route.id] ??= this.#o.stats.forRoute(route.pattern));
    stats.countReceived();
    const decoded = decodePayload(rawPayload(packet), this.#o.limits, route.schema);
    if (decoded instanceof Promise) {
      // An asynchronous validator (never rejects); the deadline starts when the handler does.
      void decoded.then((d) => this.#decoded(token, route, stats, packet, captures, d, Date.now()));
      return;
    }
    this.#decoded(token, route, stats, packet, captures, decoded, now);
  }

  /** After the payload is decoded: dead-letter it, or start the first try. */
  #decoded(
    token: T,
    route: RouteDefinition,
    stats: RouteStats,
    packet: IPublishPacket,
    captures: readonly string[],
    decoded: DecodeResult,
    now: number,
  ): void {
    if (!decoded.ok) {
      const tracer = activeTracer(now);
      void this.#deadLetterThenSettle(
        token,
        route,
        stats,
        packet,
        {
          code: decoded.code,
          message: decoded.message,
          // The decode was this message's one try: it arrived, was read and refused (never retried: a payload does
          // not change). Logged and enveloped as 1, so a dead-letter line never says 0 tries for a message it tried.
          // Its span keeps attempt 0: no handler ran.
          attempts: 1,
        },
        tracer ? startProcessSpan(tracer, route, packet, 0).span : undefined,
      );
      return;
    }
    // One load and a branch here, with no clock check: the sweeper looks at the tracer provider again (see
    // #startSweeper). A time check here cost ~2% of the cold dispatch path's instructions (callgrind), most likely
    // as a deoptimisation the first time it came true in optimised code; a branch inside #attempt cost ~3%.
    const tracer = tracingState.tracer;
    if (tracer === undefined) this.#attempt(token, route, stats, packet, captures, decoded.value, 1, now);
    else this.#attemptTraced(tracer, token, route, stats, packet, captures, decoded.value, 1, now);
  }

  /**
   * Dead-letter `packet` for `route` without running it (its process died with it in hand too often); the outcome
   * goes to `onSettled(token, …)` as for {@link run}. Never throws.
   */
  reject(route: RouteDefinition, packet: IPublishPacket, token: T, reason: DeadLetterReason): void {
    const stats = (this.#statsById[route.id] ??= this.#o.stats.forRoute(route.pattern));
    stats.countReceived();
    const tracer = activeTracer(Date.now());
    void this.#deadLetterThenSettle(
      token,
      route,
      stats,
      packet,
      reason,
      tracer ? startProcessSpan(tracer, route, packet, reason.attempts).span : undefined,
    );
  }

  /** Start one try; {@link #settle} follows when the handler settles or the sweeper times the try out. */
  #attempt(
    token: T,
    route: RouteDefinition,
    stats: RouteStats,
    packet: IPublishPacket,
    captures: readonly string[],
    payload: unknown,
    attempt: number,
    now: number,
  ): void {
    const ctx = new MessageContextImpl(packet, route, captures, payload, attempt, this.#o.publish, this.#o.logger);
    const deadline = now + (route.timeoutMs ?? this.#o.defaults.timeoutMs);
    const t = new Try(token, ctx, stats, packet, captures, deadline, now);
    this.#tries.push(t);
    if (!this.#sweeping) this.#startSweeper();
    void this.#watch(t, route.run(ctx));
  }

  /** {@link #attempt} with a tracing SDK registered: the try gets a CONSUMER span, and the handler runs in it. */
  #attemptTraced(
    tracer: Tracer,
    token: T,
    route: RouteDefinition,
    stats: RouteStats,
    packet: IPublishPacket,
    captures: readonly string[],
    payload: unknown,
    attempt: number,
    now: number,
  ): void {
    const started = startProcessSpan(tracer, route, packet, attempt);
    const { publish, logger } = this.#o;
    const ctx = new TracedMessageContext(
      packet,
      route,
      captures,
      payload,
      attempt,
      publish,
      logger,
      tracer,
      started.span,
    );
    const deadline = now + (route.timeoutMs ?? this.#o.defaults.timeoutMs);
    const t = new TracedTry(token, ctx, stats, packet, captures, deadline, now, started.span);
    this.#tries.push(t);
    if (!this.#sweeping) this.#startSweeper();
    void this.#watchTraced(t, context.with(started.context, route.run, route, ctx));
  }

  /** End the try's span, once, with `outcome` (and the failure, if any). */
  #endSpan(t: Try<T>, outcome: TryOutcome, error?: unknown): void {
    const span = t.span;
    if (span === undefined) return;
    t.span = undefined;
    endTrySpan(span, outcome, error === undefined ? undefined : { code: errorCodeOf(error), error });
  }

  /**
   * Wait for the handler. An async method rather than `.then` with two closures: a little more work per message
   * (~1.5% of the cold dispatch path's instructions), but no closure allocated per message. Never rejects.
   */
  async #watch(t: Try<T>, handled: Promise<void>): Promise<void> {
    let error: unknown;
    try {
      await handled;
    } catch (err) {
      error = err ?? rejectedWithoutReason();
    }
    this.#settle(t, error);
  }

  /** {@link #watch} of a traced try: a handled try ends its span before it settles. */
  async #watchTraced(t: TracedTry<T>, handled: Promise<void>): Promise<void> {
    let error: unknown;
    try {
      await handled;
    } catch (err) {
      error = err ?? rejectedWithoutReason();
    }
    if (error === undefined && t.live) this.#endSpan(t, 'handled');
    this.#settle(t, error);
  }

  /** The first of "handler settled" and "timed out" ends the try; the second is ignored. */
  #settle(t: Try<T>, error: unknown): void {
    if (!t.live) return; // settled already (timed out, then finished)
    t.live = false;
    this.#tries.remove(t);
    const now = Date.now();
    t.stats.observe(Math.max(0, now - t.startedAt) / 1000); // the wall clock may step back
    if (error === undefined) {
      t.stats.countHandled();
      this.#o.onSettled(t.token, 'ack', now);
    } else {
      void this.#failed(t, error);
    }
  }

  /** After a failed try: report the outcome, unless a retry took over (the retry reports its own). */
  async #failed(t: Try<T>, error: unknown): Promise<void> {
    let outcome: RunOutcome | undefined;
    try {
      outcome = await this.#afterFailure(t, error);
    } catch (err) {
      // Not expected; keep the message for redelivery rather than lose it.
      this.#o.logger.error({ err, topic: t.packet.topic }, 'route runner error; message left unacked');
      outcome = 'hold';
    }
    // A retry ended its span before the backoff; a dead letter after it was stored (or refused).
    this.#endSpan(t, outcome === 'ack' ? 'dead_lettered' : 'unacked', error);
    if (outcome !== undefined) this.#o.onSettled(t.token, outcome, Date.now());
  }

  /**
   * Retry with backoff (resolves `undefined` once the next try started), or dead-letter past `maxAttempts`;
   * `hold` when forced to stop.
   */
  async #afterFailure(t: Try<T>, error: unknown): Promise<RunOutcome | undefined> {
    const { stats, packet } = t;
    const { route, attempt } = t.ctx;
    stats.add('failed');
    if (this.#o.forceSignal.aborted) return 'hold';
    const code = errorCodeOf(error);
    const maxAttempts = route.maxAttempts ?? this.#o.defaults.maxAttempts;
    if (attempt >= maxAttempts || isFinalCode(code)) {
      return this.#deadLetters.write(
        route,
        stats,
        packet,
        { code, message: errorMessageOf(error), attempts: attempt, error },
        t.span,
      );
    }
    const delayMs = backoffDelayMs(attempt - 1, {
      baseMs: this.#o.defaults.retryBaseMs,
      maxMs: this.#o.defaults.retryMaxMs,
    });
    this.#o.logger.warn(
      { route: route.pattern, topic: packet.topic, attempt, maxAttempts, delayMs, code, err: error },
      'handler failed; retrying',
    );
    stats.add('retried');
    this.#endSpan(t, 'retried', error);
    try {
      await sleep(delayMs, this.#o.forceSignal);
    } catch {
      return 'hold';
    }
    const now = Date.now();
    const tracer = activeTracer(now);
    const { token, captures, ctx } = t;
    if (tracer === undefined) this.#attempt(token, route, stats, packet, captures, ctx.payload, attempt + 1, now);
    else this.#attemptTraced(tracer, token, route, stats, packet, captures, ctx.payload, attempt + 1, now);
    return undefined;
  }

  #timeoutMs(route: RouteDefinition): number {
    return route.timeoutMs ?? this.#o.defaults.timeoutMs;
  }

  /**
   * One timer for every try in flight, instead of a setTimeout and a Promise.race per message (measurable at tens
   * of thousands of messages a second). Deadlines are checked every {@link SWEEP_MS}, so a timeout fires up to that
   * much late. It also looks at the global tracer provider again once `tracingState.checkAt` has passed (every
   * `TRACING_RECHECK_MS`), off the hot path.
   */
  #startSweeper(): void {
    this.#sweeping = true;
    const sweeper = (this.#sweeper = setInterval(() => {
      const now = Date.now();
      if (now >= tracingState.checkAt) refreshTracing(now);
      if (!this.#tries.first) return;
      let next: Try<T> | undefined;
      for (let t: Try<T> | undefined = this.#tries.first; t; t = next) {
        next = t.next;
        if (now >= t.deadline) {
          const err = new RouteMQError(
            ErrorCodes.HANDLER_TIMEOUT,
            `Handler of '${t.ctx.route.pattern}' did not settle within ${this.#timeoutMs(t.ctx.route)} ms`,
          );
          t.ctx.abort(err);
          this.#settle(t, err);
        }
      }
    }, SWEEP_MS));
    sweeper.unref();
  }

  /**
   * Stop the deadline sweeper (a runner that lives as long as its process never needs this; a test harness that
   * makes many runners does). A later {@link run} starts it again. Tries in flight are not touched.
   */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#sweeping = false;
  }

  async #deadLetterThenSettle(
    token: T,
    route: RouteDefinition,
    stats: RouteStats,
    packet: IPublishPacket,
    reason: DeadLetterReason,
    span: Span | undefined,
  ): Promise<void> {
    let outcome: RunOutcome = 'hold';
    try {
      outcome = await this.#deadLetters.write(route, stats, packet, reason, span);
    } finally {
      if (span !== undefined) {
        endTrySpan(span, outcome === 'ack' ? 'dead_lettered' : 'unacked', { code: reason.code, error: reason.message });
      }
      this.#o.onSettled(token, outcome, Date.now());
    }
  }
}

/**
 * The failure of a handler that rejected with `undefined` or `null`. Out of line: building the error inside
 * `#watch` put 2% on the cold dispatch path's instructions (callgrind), though it never runs there.
 */
function rejectedWithoutReason(): RouteMQError {
  return new RouteMQError(ErrorCodes.HANDLER_FAILED, 'The handler rejected with no reason');
}
