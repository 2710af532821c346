import type { IPublishPacket } from 'mqtt';
import { ErrorCodes, RouteMQError, errorCodeOf, errorMessageOf, isFinalCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { bindCaptures } from '../router/route-table.js';
import type { RouteDefinition } from '../router/route-table.js';
import { backoffDelayMs, sleep } from '../util/backoff.js';
import { MessageContextImpl } from './context.js';
import type { Publisher } from './context.js';
import { buildDeadLetter, deadLetterTopicFor } from './dead-letter.js';
import type { DeadLetterReason } from './dead-letter.js';
import { decodePayload } from './decode-payload.js';
import type { PayloadLimits } from './decode-payload.js';
import type { MessageStats } from './stats.js';

/** Process-wide defaults a route can override. */
export interface RunnerDefaults {
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly dlqPrefix: string;
}

/** What {@link RouteRunner} needs from its surroundings. */
export interface RouteRunnerOptions {
  readonly defaults: RunnerDefaults;
  readonly limits: PayloadLimits;
  readonly publish: Publisher;
  readonly stats: MessageStats;
  readonly logger: Logger;
  /** Aborts when the process is forced to stop: tries end, nothing more is retried or dead-lettered. */
  readonly forceSignal: AbortSignal;
  /** Told of every message published to the dead-letter topic (for events and dashboards). */
  readonly onDeadLetter?: ((info: DeadLetterInfo) => void) | undefined;
}

/** A message that went to the dead-letter topic. */
export interface DeadLetterInfo {
  readonly route: string;
  readonly topic: string;
  readonly dlq: string;
  readonly code: string;
  readonly attempts: number;
}

/** A try in flight, for the deadline sweeper and a forced stop. */
interface ActiveTry {
  readonly ctx: MessageContextImpl;
  readonly route: RouteDefinition;
  readonly timeoutMs: number;
  readonly deadline: number;
  readonly settle: (error: unknown) => void;
}

/** A decoded message, ready for tries. */
interface PreparedMessage {
  readonly route: RouteDefinition;
  readonly packet: IPublishPacket;
  readonly payload: unknown;
  readonly params: Readonly<Record<string, string>>;
  readonly wildcards: readonly string[];
}

/** How often handler deadlines are checked. */
const SWEEP_MS = 50;

/** `ack`: the message is done (handled or dead-lettered). `hold`: leave it unacked so the broker redelivers it. */
export type RunOutcome = 'ack' | 'hold';

/**
 * Runs one route for one message: decode, try up to `maxAttempts` times with capped backoff and a timeout per
 * try, then dead-letter. A payload that fails decoding is dead-lettered at once (retrying cannot fix bytes).
 */
export class RouteRunner {
  readonly #o: RouteRunnerOptions;
  readonly #active = new Set<ActiveTry>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: RouteRunnerOptions) {
    this.#o = options;
    const force = options.forceSignal;
    force.addEventListener('abort', () => {
      for (const t of this.#active) t.ctx.abort(force.reason);
    });
  }

  /**
   * Run `route` for `packet`. Never rejects. The success path allocates one promise and no async frames: at tens of
   * thousands of messages a second, each await layer showed up in profiles as garbage-collection time.
   */
  run(route: RouteDefinition, packet: IPublishPacket, captures: readonly string[]): Promise<RunOutcome> {
    const { stats, limits } = this.#o;
    stats.add(route.pattern, 'received');
    const raw = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const decoded = decodePayload(raw, limits, route.schema);
    if (!decoded.ok) {
      return this.#deadLetter(route, packet, { code: decoded.code, message: decoded.message, attempts: 0 });
    }
    const { params, wildcards } = bindCaptures(route, captures);
    return this.#attempt({ route, packet, payload: decoded.value, params, wildcards }, 1);
  }

  /** One try; on failure, hand over to {@link #failed} (retry or dead-letter). */
  #attempt(m: PreparedMessage, attempt: number): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve) => {
      const { route } = m;
      const ctx = new MessageContextImpl({
        packet: m.packet,
        route,
        params: m.params,
        wildcards: m.wildcards,
        payload: m.payload,
        attempt,
        publish: this.#o.publish,
        logger: this.#o.logger,
      });
      const timeoutMs = route.timeoutMs ?? this.#o.defaults.timeoutMs;
      const started = performance.now();
      const entry: ActiveTry = {
        ctx,
        route,
        timeoutMs,
        deadline: Date.now() + timeoutMs,
        settle: (error: unknown) => {
          if (!this.#active.delete(entry)) return; // settled already (timed out, then finished)
          this.#o.stats.observe(route.pattern, (performance.now() - started) / 1000);
          if (error === undefined) {
            this.#o.stats.add(route.pattern, 'handled');
            resolve('ack');
          } else {
            resolve(this.#failed(m, attempt, error));
          }
        },
      };
      this.#active.add(entry);
      this.#ensureSweeper();
      route.run(ctx).then(
        () => entry.settle(undefined),
        (err: unknown) => entry.settle(err ?? new Error('handler rejected with no reason')),
      );
    });
  }

  /** After a failed try: retry with backoff, or dead-letter past `maxAttempts`; hold when forced to stop. */
  async #failed(m: PreparedMessage, attempt: number, error: unknown): Promise<RunOutcome> {
    const { route, packet } = m;
    this.#o.stats.add(route.pattern, 'failed');
    if (this.#o.forceSignal.aborted) return 'hold';
    const code = errorCodeOf(error);
    const maxAttempts = route.maxAttempts ?? this.#o.defaults.maxAttempts;
    if (attempt >= maxAttempts || isFinalCode(code)) {
      return this.#deadLetter(route, packet, { code, message: errorMessageOf(error), attempts: attempt });
    }
    const delayMs = backoffDelayMs(attempt - 1, {
      baseMs: this.#o.defaults.retryBaseMs,
      maxMs: this.#o.defaults.retryMaxMs,
    });
    this.#o.logger.warn(
      { route: route.pattern, topic: packet.topic, attempt, maxAttempts, delayMs, code, err: error },
      'handler failed; retrying',
    );
    this.#o.stats.add(route.pattern, 'retried');
    try {
      await sleep(delayMs, this.#o.forceSignal);
    } catch {
      return 'hold';
    }
    return this.#attempt(m, attempt + 1);
  }

  /**
   * One timer for every try in flight, instead of a setTimeout and a Promise.race per message (measurable at tens
   * of thousands of messages a second). Deadlines are checked every {@link SWEEP_MS}, so a timeout fires up to that
   * much late.
   */
  #ensureSweeper(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => {
      if (this.#active.size === 0) return;
      const now = Date.now();
      for (const t of this.#active) {
        if (now < t.deadline) continue;
        const err = new RouteMQError(
          ErrorCodes.HANDLER_TIMEOUT,
          `Handler of '${t.route.pattern}' did not settle within ${t.timeoutMs} ms`,
        );
        t.ctx.abort(err);
        t.settle(err);
      }
    }, SWEEP_MS);
    this.#sweeper.unref();
  }

  async #deadLetter(route: RouteDefinition, packet: IPublishPacket, reason: DeadLetterReason): Promise<RunOutcome> {
    const topic = deadLetterTopicFor(route, this.#o.defaults.dlqPrefix);
    const message = buildDeadLetter(packet, route, reason);
    try {
      await this.#o.publish(topic, message.payload, message.options);
    } catch (err) {
      this.#o.logger.error(
        { code: ErrorCodes.DLQ_PUBLISH_FAILED, route: route.pattern, topic: packet.topic, dlq: topic, err },
        'could not publish to the dead-letter topic; the message stays unacked and will be redelivered',
      );
      return 'hold';
    }
    this.#o.stats.add(route.pattern, 'deadLettered');
    this.#o.onDeadLetter?.({
      route: route.pattern,
      topic: packet.topic,
      dlq: topic,
      code: reason.code,
      attempts: reason.attempts,
    });
    this.#o.logger.warn(
      { route: route.pattern, topic: packet.topic, dlq: topic, code: reason.code, attempts: reason.attempts },
      `message dead-lettered: ${reason.message}`,
    );
    return 'ack';
  }
}
