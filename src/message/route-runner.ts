import type { IPublishPacket } from 'mqtt';
import { ErrorCodes, RouteMQError, errorCodeOf, errorMessageOf } from '../errors.js';
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

/** `ack`: the message is done (handled or dead-lettered). `hold`: leave it unacked so the broker redelivers it. */
export type RunOutcome = 'ack' | 'hold';

/**
 * Runs one route for one message: decode, try up to `maxAttempts` times with capped backoff and a timeout per
 * try, then dead-letter. A payload that fails decoding is dead-lettered at once (retrying cannot fix bytes).
 */
export class RouteRunner {
  readonly #o: RouteRunnerOptions;
  readonly #active = new Set<MessageContextImpl>();

  constructor(options: RouteRunnerOptions) {
    this.#o = options;
    const force = options.forceSignal;
    force.addEventListener('abort', () => {
      for (const ctx of this.#active) ctx.abort(force.reason);
    });
  }

  async run(route: RouteDefinition, packet: IPublishPacket, captures: readonly string[]): Promise<RunOutcome> {
    const { stats, limits } = this.#o;
    stats.add(route.pattern, 'received');
    const raw = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const decoded = decodePayload(raw, limits, route.schema);
    if (!decoded.ok) {
      return this.#deadLetter(route, packet, { code: decoded.code, message: decoded.message, attempts: 0 });
    }
    const { params, wildcards } = bindCaptures(route, captures);
    const maxAttempts = route.maxAttempts ?? this.#o.defaults.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      const error = await this.#try(route, packet, decoded.value, params, wildcards, attempt);
      if (error === undefined) {
        stats.add(route.pattern, 'handled');
        return 'ack';
      }
      stats.add(route.pattern, 'failed');
      if (this.#o.forceSignal.aborted) return 'hold';
      const code = errorCodeOf(error);
      if (attempt >= maxAttempts) {
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
      stats.add(route.pattern, 'retried');
      try {
        await sleep(delayMs, this.#o.forceSignal);
      } catch {
        return 'hold';
      }
    }
  }

  /** One try; resolves to the error, or undefined on success. Never rejects. */
  async #try(
    route: RouteDefinition,
    packet: IPublishPacket,
    payload: unknown,
    params: Readonly<Record<string, string>>,
    wildcards: readonly string[],
    attempt: number,
  ): Promise<unknown> {
    const timeoutMs = route.timeoutMs ?? this.#o.defaults.timeoutMs;
    const ctx = new MessageContextImpl({
      packet,
      route,
      params,
      wildcards,
      payload,
      attempt,
      publish: this.#o.publish,
      logger: this.#o.logger,
    });
    // A forced stop aborts every try in this set; one Set entry is far cheaper than a listener per try.
    this.#active.add(ctx);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new RouteMQError(
          ErrorCodes.HANDLER_TIMEOUT,
          `Handler of '${route.pattern}' did not settle within ${timeoutMs} ms`,
        );
        ctx.abort(err);
        reject(err);
      }, timeoutMs);
    });
    const started = performance.now();
    try {
      await Promise.race([route.run(ctx), timeout]);
      return undefined;
    } catch (err) {
      return err ?? new Error('handler rejected with no reason');
    } finally {
      clearTimeout(timer);
      this.#active.delete(ctx);
      this.#o.stats.observe(route.pattern, (performance.now() - started) / 1000);
    }
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
