import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisManager } from '../redis/redis-manager.js';
import { ALLOWED, refused } from './limiter.js';
import type { LimitDecision, LimitSpec, Limiter } from './limiter.js';
import { ErrorCodes, RouteMQError } from '../errors.js';

// Each script takes one message's place when the limit allows it and returns {allowed, retryAfterMs}. `now` comes
// from the caller (hosts must keep their clocks in sync, as with any time window). Integer arithmetic throughout.

/**
 * KEYS[1] = counter of the current window; ARGV = now, windowMs, max. The counter lives until one whole window after
 * its own ends: a take stamped near the end of the window but run a little later (a busy host) must still find the
 * window's count, not a fresh one.
 */
const FIXED_WINDOW = `
local now, w, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= max then return {0, (math.floor(now / w) + 1) * w - now} end
redis.call('INCR', KEYS[1])
if n == 0 then redis.call('PEXPIRE', KEYS[1], (math.floor(now / w) + 2) * w - now) end
return {1, 0}`;

/** KEYS[1] = sorted set of message times; ARGV = now, windowMs, max, a unique member. */
const SLIDING_WINDOW = `
local now, w, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - w)
if redis.call('ZCARD', KEYS[1]) >= max then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + w - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], w)
return {1, 0}`;

/** KEYS[1] = hash {units, at}; ARGV = now, windowMs, max, burst. Units of 1/windowMs token, as MemoryLimiter. */
const TOKEN_BUCKET = `
local now, w, max, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local capacity = burst * w
local saved = redis.call('HMGET', KEYS[1], 'units', 'at')
local units = capacity
if saved[1] then units = math.min(capacity, tonumber(saved[1]) + math.max(0, now - tonumber(saved[2])) * max) end
local allowed = units >= w
if allowed then units = units - w end
-- A host whose clock is behind must not move the refill time back (and so refill twice).
redis.call('HSET', KEYS[1], 'units', units, 'at', math.max(now, tonumber(saved[2] or now)))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / max) + w)
if allowed then return {1, 0} end
return {0, math.ceil((w - units) / max)}`;

type Script = (key: string, ...args: (string | number)[]) => Promise<[number, number]>;
type ScriptedRedis = Redis & Record<'rmqFixedWindow' | 'rmqSlidingWindow' | 'rmqTokenBucket', Script>;

const defined = new WeakSet<Redis>();

function scripted(client: Redis): ScriptedRedis {
  if (!defined.has(client)) {
    // ioredis sends EVALSHA, and the script itself only when Redis does not know it yet.
    client.defineCommand('rmqFixedWindow', { numberOfKeys: 1, lua: FIXED_WINDOW });
    client.defineCommand('rmqSlidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW });
    client.defineCommand('rmqTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET });
    defined.add(client);
  }
  return client as ScriptedRedis;
}

/** Sliding-window members must be unique over every process and host (pids repeat across containers). */
const MEMBER_PREFIX = randomBytes(6).toString('hex');
let sequence = 0;

/**
 * The rate limits in Redis: one atomic Lua script per take, so every worker and host shares one count per key.
 * Keys: `<prefix>ratelimit:<name>:<strategy>:<max>:<windowMs>[:<burst>]:<key>[:<window>]`, each expiring once it
 * no longer matters. Rejects when Redis cannot answer; the middleware then applies its `onRedisDown` choice.
 */
export class RedisLimiter implements Limiter {
  readonly #redis: RedisManager;
  readonly #spec: LimitSpec;
  readonly #base: string;

  constructor(redis: RedisManager, spec: LimitSpec, name: string) {
    this.#redis = redis;
    this.#spec = spec;
    const { strategy, max, windowMs, burst } = spec;
    const shape = strategy === 'token_bucket' ? `${max}:${windowMs}:${burst}` : `${max}:${windowMs}`;
    this.#base = redis.key('ratelimit', name, strategy, shape);
  }

  async take(key: string, now: number): Promise<LimitDecision> {
    const client = this.#redis.readyClient();
    if (!client) throw new RouteMQError(ErrorCodes.REDIS_UNAVAILABLE, 'Redis is not connected');
    const r = scripted(client);
    const { strategy, max, windowMs, burst } = this.#spec;
    const k = `${this.#base}:${key}`;
    let reply: [number, number];
    switch (strategy) {
      case 'fixed_window':
        reply = await r.rmqFixedWindow(`${k}:${Math.floor(now / windowMs)}`, now, windowMs, max);
        break;
      case 'sliding_window':
        reply = await r.rmqSlidingWindow(k, now, windowMs, max, `${now}-${MEMBER_PREFIX}-${++sequence}`);
        break;
      case 'token_bucket':
        reply = await r.rmqTokenBucket(k, now, windowMs, max, burst);
        break;
    }
    return reply[0] === 1 ? ALLOWED : refused(reply[1]);
  }
}
