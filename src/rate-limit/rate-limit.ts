/**
 * @module
 * The `rateLimit` middleware: fixed window, sliding window or token bucket, in Redis or per process.
 */
import { ErrorCodes, RouteMQError } from '../errors.js';
import { parsePattern } from '../router/topic-pattern.js';
import { TopicTrie } from '../router/topic-trie.js';
import { sharedRedis } from '../redis/shared-redis.js';
import type { RedisManager } from '../redis/redis-manager.js';
import type { MessageContext, Middleware } from '../types.js';
import { sleep } from '../util/backoff.js';
import { ALLOWED, refused } from './limiter.js';
import type { LimitDecision, LimitSpec, RateLimitStrategy } from './limiter.js';
import { MemoryLimiter } from './memory-limiter.js';
import { RedisLimiter } from './redis-limiter.js';

type AnyContext = MessageContext<Record<string, string>, unknown>;

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** @defaultValue 'sliding_window' */
  readonly strategy?: RateLimitStrategy;
  /** Messages allowed per window, per key (token bucket: tokens added per window). */
  readonly max: number;
  readonly windowMs: number;
  /** Token bucket only: the bucket's size, i.e. the largest burst. @defaultValue max */
  readonly burst?: number;
  /**
   * What is limited: `'topic'` (each concrete topic), `'route'` (the route as a whole), or a function of the
   * message (a param, a payload field…). A function returning `undefined` exempts the message.
   * @defaultValue 'topic'
   */
  readonly key?: 'topic' | 'route' | ((ctx: AnyContext) => string | undefined);
  /**
   * Over the limit: `'delay'` keeps the message unacked and waits until the limit allows it (backpressure; the
   * wait counts against the route's `timeoutMs`), `'dead_letter'` sends it to the dead-letter topic at once with
   * `RMQ_ERR_RATE_LIMITED`. Never dropped. @defaultValue 'delay'
   */
  readonly onLimit?: 'delay' | 'dead_letter';
  /** Never limited: exact keys, and topics matching MQTT patterns (`+`, `#`, `{name}`). Not substrings. */
  readonly whitelist?: { readonly keys?: readonly string[]; readonly topics?: readonly string[] };
  /** Limiters with the same name, strategy, max and window share their counts in Redis. @defaultValue 'default' */
  readonly name?: string;
  /**
   * Where the counts live: `'redis'` when `ENABLE_REDIS` is on (shared by every worker and host), else in this
   * process's memory (per process: N workers allow N × max). @defaultValue 'redis'
   */
  readonly store?: 'redis' | 'memory';
  /**
   * While Redis is enabled but down: `'memory'` counts per process meanwhile, `'allow'` lets everything through
   * (fail open), `'deny'` treats every message as over the limit (fail closed: delayed or dead-lettered).
   * @defaultValue 'memory'
   */
  readonly onRedisDown?: 'memory' | 'allow' | 'deny';
  /** The clock, in ms. @defaultValue Date.now */
  readonly clock?: () => number;
}

/** How long a process waits for Redis to be ready before its first take falls back. */
const READY_WAIT_MS = 5000;
/** While Redis is down, each delayed message waits at most this long before asking again. */
const DOWN_RETRY_MS = 1000;

/**
 * A middleware that limits how many messages pass per key and window: fixed window, sliding window (exact, a log
 * of times) or token bucket. Counts are atomic in Redis (Lua) when Redis is enabled, so the limit holds over every
 * worker and host; otherwise, and as a fallback while Redis is down, they are kept per process.
 *
 * A message over the limit is never acked and dropped: it waits unacked (`onLimit: 'delay'`, backpressure) or goes
 * to the dead-letter topic with `RMQ_ERR_RATE_LIMITED` (`onLimit: 'dead_letter'`).
 *
 * @throws RouteMQError `RMQ_ERR_ROUTE_OPTION_INVALID` for bad options (at declaration, not per message).
 *
 * @example
 * ```ts
 * import { rateLimit } from 'routemq';
 * import type { Router } from 'routemq';
 *
 * export default (router: Router): void => {
 *   // At most 10 commands per device per second, over every worker and host when Redis is on;
 *   // the rest wait unacked (backpressure), none is dropped.
 *   router.group({ prefix: 'devices', middleware: [rateLimit({ max: 10, windowMs: 1000, key: 'topic' })] }, (r) => {
 *     r.on('{deviceId}/commands', (ctx) => ctx.log.info({ device: ctx.params.deviceId }, 'command'), { qos: 1 });
 *   });
 * };
 * ```
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  const spec = specOf(options);
  const keyOf = keyFunction(options.key ?? 'topic');
  const exemptKeys = new Set(options.whitelist?.keys ?? []);
  const exemptTopics = new TopicTrie<true>();
  for (const pattern of options.whitelist?.topics ?? []) exemptTopics.insert(parsePattern(pattern).filter, true);
  const clock = options.clock ?? Date.now;
  const onLimit = options.onLimit ?? 'delay';
  const onRedisDown = options.onRedisDown ?? 'memory';
  const memory = new MemoryLimiter(spec);
  let redisLimiter: Promise<{ redis: RedisManager; limiter: RedisLimiter } | undefined> | undefined;

  const remote = (): Promise<{ redis: RedisManager; limiter: RedisLimiter } | undefined> => {
    redisLimiter ??= (async () => {
      if (options.store === 'memory') return undefined;
      const redis = await sharedRedis();
      if (!redis || redis.state === 'disabled') return undefined;
      await redis.whenReady(READY_WAIT_MS);
      return { redis, limiter: new RedisLimiter(redis, spec, options.name ?? 'default') };
    })();
    return redisLimiter;
  };

  const take = async (key: string, ctx: AnyContext): Promise<LimitDecision> => {
    const shared = await remote();
    // The time is read once the store is at hand: a message that waited for Redis to connect (a worker's first
    // messages) must count in the window it is counted in, not in the one it arrived in. Stamped before the wait,
    // it would count in a window that is over (and whose key may have expired meanwhile), on top of the current
    // window's count: twice the limit in one real window.
    const now = clock();
    if (!shared) return memory.take(key, now);
    let decision: LimitDecision;
    try {
      decision = await shared.limiter.take(key, now);
    } catch (err) {
      ctx.log.debug({ err }, 'rate limit: Redis did not answer; applying onRedisDown');
      if (onRedisDown === 'allow') decision = ALLOWED;
      else if (onRedisDown === 'deny') decision = refused(DOWN_RETRY_MS);
      else decision = await memory.take(key, now);
    }
    // The try may have timed out while Redis answered: its retry runs instead, never both.
    ctx.signal.throwIfAborted();
    return decision;
  };

  return async (ctx, next) => {
    const key = keyOf(ctx);
    if (key === undefined || exemptKeys.has(key) || exemptTopics.match(ctx.topic)) return next();
    for (;;) {
      const decision = await take(key, ctx);
      if (decision.allowed) return next();
      if (onLimit === 'dead_letter') {
        throw new RouteMQError(
          ErrorCodes.RATE_LIMITED,
          `Over the rate limit of ${spec.max} per ${spec.windowMs} ms (${spec.strategy}) for key '${key}'`,
        );
      }
      // Backpressure: the message stays unacked and holds its slot; the handler's timeout still applies.
      await sleep(decision.retryAfterMs, ctx.signal);
    }
  };
}

function specOf(o: RateLimitOptions): LimitSpec {
  const bad = (message: string): RouteMQError =>
    new RouteMQError(ErrorCodes.ROUTE_OPTION_INVALID, `rateLimit: ${message}`);
  const strategy = o.strategy ?? 'sliding_window';
  if (!['fixed_window', 'sliding_window', 'token_bucket'].includes(strategy)) {
    throw bad(`strategy must be fixed_window, sliding_window or token_bucket, got ${String(strategy)}`);
  }
  if (!Number.isInteger(o.max) || o.max < 1) throw bad(`max must be an integer ≥ 1, got ${String(o.max)}`);
  if (!Number.isInteger(o.windowMs) || o.windowMs < 1) {
    throw bad(`windowMs must be an integer ≥ 1, got ${String(o.windowMs)}`);
  }
  const burst = o.burst ?? o.max;
  if (!Number.isInteger(burst) || burst < 1) throw bad(`burst must be an integer ≥ 1, got ${String(o.burst)}`);
  if (o.onLimit !== undefined && o.onLimit !== 'delay' && o.onLimit !== 'dead_letter') {
    throw bad(`onLimit must be 'delay' or 'dead_letter', got ${String(o.onLimit)}`);
  }
  if (o.name !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(o.name)) {
    throw bad(`name must be 1-64 characters of A-Z a-z 0-9 _ . -, got ${JSON.stringify(o.name)}`);
  }
  return { strategy, max: o.max, windowMs: o.windowMs, burst };
}

function keyFunction(key: NonNullable<RateLimitOptions['key']>): (ctx: AnyContext) => string | undefined {
  if (key === 'topic') return (ctx) => ctx.topic;
  if (key === 'route') return (ctx) => ctx.route.pattern;
  if (typeof key === 'function') return key;
  throw new RouteMQError(
    ErrorCodes.ROUTE_OPTION_INVALID,
    `rateLimit: key must be 'topic', 'route' or a function, got ${String(key)}`,
  );
}
