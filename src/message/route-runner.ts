import type { IPublishPacket } from 'mqtt';
import { ErrorCodes, RouteMQError, errorCodeOf, errorMessageOf, isFinalCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RouteDefinition } from '../router/route-table.js';
import { backoffDelayMs, sleep } from '../util/backoff.js';
import { IntrusiveList } from '../util/intrusive-list.js';
import { MessageContextImpl, rawPayload } from './context.js';
import type { Publisher } from './context.js';
import { buildDeadLetter, deadLetterMessage } from './dead-letter.js';
import type { DeadLetterEnvelope, DeadLetterOrigin, DeadLetterReason } from './dead-letter.js';
import type { StoreResult } from '../dlq/store.js';
import { decodePayload } from './decode-payload.js';
import type { PayloadLimits } from './decode-payload.js';
import type { MessageStats, RouteStats } from './stats.js';
import type { DeadLetterInfo } from '../events.js';

/** Process-wide defaults a route can override. */
export interface RunnerDefaults {
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly dlqPrefix: string;
}

/** What {@link RouteRunner} needs from its surroundings. */
export interface RouteRunnerOptions<T> {
  readonly defaults: RunnerDefaults;
  readonly limits: PayloadLimits;
  readonly publish: Publisher;
  readonly stats: MessageStats;
  readonly logger: Logger;
  /** Aborts when the process is forced to stop: tries end, nothing more is retried or dead-lettered. */
  readonly forceSignal: AbortSignal;
  /** Told of every message dead-lettered (for events and dashboards). */
  readonly onDeadLetter?: ((info: DeadLetterInfo) => void) | undefined;
  /**
   * Where dead letters go: resolves once the dead letter is durable (then the original is acked), or says why
   * not (the original then stays unacked and the put is retried). Without it (a Dispatcher built by hand), the
   * dead letter is only published to the dead-letter topic, and a failed publish leaves the original unacked.
   */
  readonly deadLetters?: DeadLetterSink | undefined;
  /** Where this process is, for the envelope. */
  readonly origin?: DeadLetterOrigin | undefined;
  /**
   * Told the outcome of each {@link RouteRunner.run}, once, with the token given to it, and `Date.now()` as read
   * when it settled (so the caller needs no clock read of its own). Must not throw.
   */
  readonly onSettled: (token: T, outcome: RunOutcome, now: number) => void;
}

/**
 * One try of one route for one message. Also the node of the runner's list of tries in flight (for the deadline
 * sweeper and a forced stop): an intrusive list costs two field writes per try where a Set costs two hash-table
 * operations.
 */
class Try<T> {
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
}

/** Stores a dead letter durably (see {@link RouteRunnerOptions.deadLetters}). Never rejects. */
export type DeadLetterSink = (envelope: DeadLetterEnvelope) => Promise<StoreResult>;

/** Largest dead-letter copy published without a store (`ROUTEMQ_DLQ_MQTT_MAX_BYTES`'s default). */
const FALLBACK_MQTT_MAX_BYTES = 262_144;
/** Longest wait between two puts of a dead letter the store refused. */
const STORE_RETRY_MAX_MS = 5000;

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
  /** Each route's stats by route id: an array read per message instead of a Map lookup by pattern. */
  readonly #statsById: RouteStats[] = [];

  constructor(options: RouteRunnerOptions<T>) {
    this.#o = options;
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
    if (!decoded.ok) {
      void this.#deadLetterThenSettle(token, route, stats, packet, {
        code: decoded.code,
        message: decoded.message,
        attempts: 0,
      });
      return;
    }
    this.#attempt(token, route, stats, packet, captures, decoded.value, 1, now);
  }

  /**
   * Dead-letter `packet` for `route` without running it (its process died with it in hand too often); the outcome
   * goes to `onSettled(token, …)` as for {@link run}. Never throws.
   */
  reject(route: RouteDefinition, packet: IPublishPacket, token: T, reason: DeadLetterReason): void {
    const stats = (this.#statsById[route.id] ??= this.#o.stats.forRoute(route.pattern));
    stats.countReceived();
    void this.#deadLetterThenSettle(token, route, stats, packet, reason);
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
    const t = new Try(token, ctx, stats, packet, captures, now + (route.timeoutMs ?? this.#o.defaults.timeoutMs), now);
    this.#tries.push(t);
    if (!this.#sweeping) this.#startSweeper();
    void this.#watch(t, route.run(ctx));
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
      return this.#deadLetter(route, stats, packet, {
        code,
        message: errorMessageOf(error),
        attempts: attempt,
        error,
      });
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
    try {
      await sleep(delayMs, this.#o.forceSignal);
    } catch {
      return 'hold';
    }
    this.#attempt(t.token, route, stats, packet, t.captures, t.ctx.payload, attempt + 1, Date.now());
    return undefined;
  }

  #timeoutMs(route: RouteDefinition): number {
    return route.timeoutMs ?? this.#o.defaults.timeoutMs;
  }

  /**
   * One timer for every try in flight, instead of a setTimeout and a Promise.race per message (measurable at tens
   * of thousands of messages a second). Deadlines are checked every {@link SWEEP_MS}, so a timeout fires up to that
   * much late.
   */
  #startSweeper(): void {
    this.#sweeping = true;
    const sweeper = setInterval(() => {
      if (!this.#tries.first) return;
      const now = Date.now();
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
    }, SWEEP_MS);
    sweeper.unref();
  }

  async #deadLetterThenSettle(
    token: T,
    route: RouteDefinition,
    stats: RouteStats,
    packet: IPublishPacket,
    reason: DeadLetterReason,
  ): Promise<void> {
    let outcome: RunOutcome = 'hold';
    try {
      outcome = await this.#deadLetter(route, stats, packet, reason);
    } finally {
      this.#o.onSettled(token, outcome, Date.now());
    }
  }

  async #deadLetter(
    route: RouteDefinition,
    stats: RouteStats,
    packet: IPublishPacket,
    reason: DeadLetterReason,
  ): Promise<RunOutcome> {
    const envelope = buildDeadLetter(packet, route, reason, {
      dlqPrefix: this.#o.defaults.dlqPrefix,
      ...(this.#o.origin ? { origin: this.#o.origin } : {}),
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

/**
 * The failure of a handler that rejected with `undefined` or `null`. Out of line: building the error inside
 * `#watch` put 2% on the cold dispatch path's instructions (callgrind), though it never runs there.
 */
function rejectedWithoutReason(): RouteMQError {
  return new RouteMQError(ErrorCodes.HANDLER_FAILED, 'The handler rejected with no reason');
}
