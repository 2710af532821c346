import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isRouteMQError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { MemoryLimiter } from '../../src/rate-limit/memory-limiter.js';
import { rateLimit } from '../../src/rate-limit/rate-limit.js';
import type { RateLimitOptions } from '../../src/rate-limit/rate-limit.js';
import type { LimitSpec, Limiter } from '../../src/rate-limit/limiter.js';
import { RedisLimiter } from '../../src/rate-limit/redis-limiter.js';
import type { RedisManager } from '../../src/redis/redis-manager.js';
import { provideSharedRedis, stopSharedRedis } from '../../src/redis/shared-redis.js';
import type { MessageContext } from '../../src/types.js';
import { useFixture } from '../helpers/fixture.js';
import { uniqueName } from '../helpers/mqtt.js';
import type { TestRedis } from '../helpers/redis-server.js';
import { startRedisManager } from '../helpers/redis.js';

const W = 60_000;
/** A window-aligned time far from now; keys still expire in real time, after a whole minute. */
const T0 = Math.floor(Date.now() / W) * W + 10 * W;

function redisEnv(port: number, prefix: string): Record<string, string> {
  return { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port), ROUTEMQ_REDIS_PREFIX: prefix };
}

/** Takes at the given times; each entry is [time, expected allowed, expected retryAfterMs when refused]. */
async function run(limiter: Limiter, key: string, steps: readonly [number, boolean, number?][]): Promise<void> {
  for (const [at, allowed, retry] of steps) {
    const decision = await limiter.take(key, T0 + at);
    expect({ at, allowed: decision.allowed }).toEqual({ at, allowed });
    if (!allowed && retry !== undefined) expect({ at, retry: decision.retryAfterMs }).toEqual({ at, retry });
  }
}

const SCENARIOS: readonly [string, LimitSpec, [number, boolean, number?][]][] = [
  [
    'fixed_window: max per aligned window, the count resets exactly at the next window',
    { strategy: 'fixed_window', max: 3, windowMs: W, burst: 3 },
    [
      [0, true],
      [1, true],
      [W - 2, true],
      [W - 1, false, 1],
      [W, true],
      [W, true],
      [W + 5, true],
      [W + 6, false, W - 6],
    ],
  ],
  [
    'sliding_window: at most max in any window, each take expires exactly windowMs later',
    { strategy: 'sliding_window', max: 3, windowMs: W, burst: 3 },
    [
      [0, true],
      [400, true],
      [800, true],
      [W - 1, false, 1],
      [W, true],
      [W + 1, false, 399],
      [W + 400, true],
      [W + 401, false, 399],
    ],
  ],
  [
    'token_bucket: a burst up to its size, then max per window, refilled continuously',
    { strategy: 'token_bucket', max: 2, windowMs: 1000, burst: 4 },
    [
      [0, true],
      [0, true],
      [0, true],
      [0, true],
      [0, false, 500],
      [499, false, 1],
      [500, true],
      [500, false, 500],
      [10_000, true],
      [10_000, true],
      [10_000, true],
      [10_000, true],
      [10_000, false, 500],
    ],
  ],
];

describe('rate limiters at their window edges', () => {
  const f = useFixture({ broker: false });
  const prefix = f.prefix('rmqrl');
  let redis: RedisManager;

  beforeAll(async () => {
    redis = (await f.redisManager(redisEnv(6379, prefix))).manager;
  });

  describe.each(SCENARIOS)('%s', (_name, spec, steps) => {
    it('in Redis (Lua), shared by every process', async () => {
      await run(new RedisLimiter(redis, spec, uniqueName('t')), 'k', steps);
    });

    it('in memory, the fallback', async () => {
      await run(new MemoryLimiter(spec), 'k', steps);
    });

    it('counts keys apart', async () => {
      const limiter = new RedisLimiter(redis, spec, uniqueName('t'));
      for (let i = 0; i < spec.burst; i++) expect((await limiter.take('a', T0)).allowed).toBe(true);
      expect((await limiter.take('a', T0)).allowed).toBe(false);
      expect((await limiter.take('b', T0)).allowed).toBe(true);
    });
  });

  it('keeps a fixed window’s count until one window after it ends, for takes that reach Redis late', async () => {
    const limiter = new RedisLimiter(
      redis,
      { strategy: 'fixed_window', max: 3, windowMs: W, burst: 3 },
      uniqueName('t'),
    );
    expect((await limiter.take('late', T0)).allowed).toBe(true);
    const [key] = await redis.client!.keys(`${prefix}ratelimit:*:late:*`);
    // Taken at the window's start: the count must outlive the window (W) by a whole window.
    expect(await redis.client!.pttl(key ?? '')).toBeGreaterThan(W);
  });

  it('shares one count between two clients (two processes or hosts)', async () => {
    const other = (await f.redisManager(redisEnv(6379, prefix))).manager;
    const spec: LimitSpec = { strategy: 'sliding_window', max: 4, windowMs: W, burst: 4 };
    const name = uniqueName('t');
    const [a, b] = [new RedisLimiter(redis, spec, name), new RedisLimiter(other, spec, name)];
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).take('k', T0 + i)));
    expect(results.filter((r) => r.allowed)).toHaveLength(4);
  });
});

/** Enough of a message context for the middleware: a topic, a route, a log and a signal. */
function context(topic: string, signal = new AbortController().signal): MessageContext {
  return {
    topic,
    params: {},
    wildcards: [],
    payload: {},
    raw: Buffer.from('{}'),
    qos: 1,
    retain: false,
    dup: false,
    properties: undefined,
    attempt: 1,
    route: { pattern: 'r/{id}', filter: 'r/+', name: 'r/{id}' },
    log: silentLogger(),
    signal,
    state: {},
    publish: () => Promise.resolve(),
  };
}

describe('rateLimit middleware', () => {
  const f = useFixture({ broker: false });
  let server: TestRedis;
  let now = T0;

  beforeAll(async () => {
    server = await f.redisServer();
  });
  afterEach(async () => {
    await stopSharedRedis();
  });

  async function pass(mw: ReturnType<typeof rateLimit>, topic: string): Promise<string> {
    let passed = false;
    try {
      await mw(context(topic), () => {
        passed = true;
        return Promise.resolve();
      });
    } catch (err) {
      return isRouteMQError(err) ? err.code : String(err);
    }
    return passed ? 'passed' : 'stopped';
  }

  function limited(extra: Partial<RateLimitOptions> = {}): ReturnType<typeof rateLimit> {
    return rateLimit({
      strategy: 'fixed_window',
      max: 2,
      windowMs: W,
      onLimit: 'dead_letter',
      name: uniqueName('mw'),
      clock: () => now,
      ...extra,
    });
  }

  it('dead-letters over the limit with RMQ_ERR_RATE_LIMITED, and exempts whitelisted keys and topic patterns', async () => {
    provideSharedRedis(async () => (await startRedisManager(redisEnv(server.port, `${uniqueName('p')}:`))).manager);
    const mw = limited({ whitelist: { keys: ['vip/1'], topics: ['ops/#', 'sensors/+/alarm'] } });
    expect(await pass(mw, 't/1')).toBe('passed');
    expect(await pass(mw, 't/1')).toBe('passed');
    expect(await pass(mw, 't/1')).toBe(ErrorCodes.RATE_LIMITED);
    expect(await pass(mw, 't/2')).toBe('passed');
    for (let i = 0; i < 5; i++) {
      expect(await pass(mw, 'vip/1')).toBe('passed');
      expect(await pass(mw, 'ops/a/b')).toBe('passed');
      expect(await pass(mw, 'sensors/9/alarm')).toBe('passed');
    }
    // Exact keys and patterns, not substrings.
    expect(await pass(mw, 'vip/10')).toBe('passed');
    expect(await pass(mw, 'vip/10')).toBe('passed');
    expect(await pass(mw, 'vip/10')).toBe(ErrorCodes.RATE_LIMITED);
  });

  it('counts a message that waited for Redis to connect in the window it is counted in, not the one it arrived in', async () => {
    const manager = (await f.redisManager(redisEnv(server.port, `${uniqueName('p')}:`))).manager;
    let connected = (): void => undefined;
    const connecting = new Promise<void>((resolve) => (connected = resolve));
    provideSharedRedis(async () => {
      await connecting;
      return manager;
    });
    const mw = limited();
    now += 2 * W;
    // Two messages arrive while this process's Redis client is still connecting; it is ready one window later.
    const early = [pass(mw, 'k'), pass(mw, 'k')];
    now += W;
    connected();
    // Two more in that window: with the early ones counted in the window they arrived in, all four would pass.
    expect([...(await Promise.all(early)), await pass(mw, 'k'), await pass(mw, 'k')]).toEqual([
      'passed',
      'passed',
      ErrorCodes.RATE_LIMITED,
      ErrorCodes.RATE_LIMITED,
    ]);
  });

  it('delays over the limit (the message stays in hand) until the window allows it', async () => {
    const manager = (await f.redisManager(redisEnv(server.port, `${uniqueName('p')}:`))).manager;
    provideSharedRedis(() => Promise.resolve(manager));
    const mw = rateLimit({ strategy: 'sliding_window', max: 2, windowMs: 300, name: uniqueName('d') });
    await pass(rateLimit({ max: 1, windowMs: 1, name: uniqueName('warm') }), 'warm-up'); // scripts loaded
    const started = Date.now();
    // Each message's own signal counts its waits: the middleware sleeps on it (an abort listener per wait).
    const runs: { waits: number; atMs: number }[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map(() => {
        const signal = new AbortController().signal;
        let waits = 0;
        const listen = signal.addEventListener.bind(signal);
        signal.addEventListener = ((type: string, ...rest: [EventListener, AddEventListenerOptions?]) => {
          if (type === 'abort') waits++;
          listen(type, ...rest);
        }) as AbortSignal['addEventListener'];
        return mw(context('t/x', signal), () => {
          runs.push({ waits, atMs: Date.now() - started });
          return Promise.resolve();
        });
      }),
    );
    // 2 at once, 2 one window later, 1 two windows later; never early. "At once" is counted in waits, not timed, so
    // a slow machine cannot fail it: only a limiter that lets more or fewer than `max` through the first window can.
    expect(runs.filter((r) => r.waits === 0)).toHaveLength(2);
    expect(runs.filter((r) => r.waits > 0)).toHaveLength(3);
    const times = runs.map((r) => r.atMs).sort((a, b) => a - b);
    expect(times[2]).toBeGreaterThanOrEqual(299);
    expect(times[4]).toBeGreaterThanOrEqual(599);
  });

  it('falls back per documented choice while Redis is stopped, and returns to Redis when it is back', async () => {
    const manager = (await f.redisManager(redisEnv(server.port, `${uniqueName('p')}:`))).manager;
    provideSharedRedis(() => Promise.resolve(manager));
    const memoryMw = limited();
    const openMw = limited({ onRedisDown: 'allow' });
    const closedMw = limited({ onRedisDown: 'deny' });
    expect(await pass(memoryMw, 'k')).toBe('passed');

    await server.stop();
    const deadline = Date.now() + 5000;
    while (manager.available && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(manager.available).toBe(false);
    // 'memory' (default): the limit still holds, counted in this process only (its count starts afresh).
    expect(await pass(memoryMw, 'k')).toBe('passed');
    expect(await pass(memoryMw, 'k')).toBe('passed');
    expect(await pass(memoryMw, 'k')).toBe(ErrorCodes.RATE_LIMITED);
    // 'allow' fails open; 'deny' fails closed (dead-lettered here, delayed with onLimit 'delay').
    for (let i = 0; i < 4; i++) expect(await pass(openMw, 'k')).toBe('passed');
    expect(await pass(closedMw, 'k')).toBe(ErrorCodes.RATE_LIMITED);

    await server.start();
    expect(await manager.whenReady(10_000)).toBe(true);
    now += W; // a new window: a fresh Redis (no persistence) and a fresh count.
    expect(await pass(closedMw, 'k')).toBe('passed');
    expect(await pass(closedMw, 'k')).toBe('passed');
    expect(await pass(closedMw, 'k')).toBe(ErrorCodes.RATE_LIMITED);
  });

  it('refuses bad options when the route is declared, not per message', () => {
    const codeOf = (o: RateLimitOptions): string => {
      try {
        rateLimit(o);
        return 'accepted';
      } catch (err) {
        return isRouteMQError(err) ? err.code : String(err);
      }
    };
    expect(codeOf({ max: 0, windowMs: 1000 })).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
    expect(codeOf({ max: 1, windowMs: 1.5 })).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
    expect(codeOf({ max: 1, windowMs: 10, strategy: 'leaky' as 'fixed_window' })).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
    expect(codeOf({ max: 1, windowMs: 10, whitelist: { topics: ['a/#/b'] } })).toBe(ErrorCodes.PATTERN_INVALID);
    expect(codeOf({ max: 1, windowMs: 10 })).toBe('accepted');
  });
});
