import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import type { RedisManager } from '../../src/redis/redis-manager.js';
import { LeaderLease } from '../../src/scaling/leader-lease.js';
import { ScalingStore } from '../../src/scaling/scaling-store.js';
import type { DesiredCounts } from '../../src/scaling/scaling-store.js';
import { useFixture } from '../helpers/fixture.js';

// Against the real Redis on 127.0.0.1:6379.
describe('leader lease', () => {
  const f = useFixture({ broker: false, redis: true });
  const prefix = f.prefix('rmqlease');

  async function manager(): Promise<RedisManager> {
    const { manager: m, ready } = await f.redisManager({ REDIS_HOST: '127.0.0.1', ROUTEMQ_REDIS_PREFIX: prefix });
    expect(ready).toBe(true);
    return m;
  }

  const decision = (token: number): DesiredCounts => ({
    token,
    total: 2,
    shares: { a: 2 },
    reason: 'test',
    inputs: {},
    at: Date.now(),
    writtenAt: Date.now(),
    state: undefined,
  });

  it('has one holder at a time, fences a deposed holder’s writes, and hands over with a higher token', async () => {
    const [ra, rb] = [await manager(), await manager()];
    const a = new LeaderLease({ redis: ra, holder: 'a', leaseMs: 1000, logger: silentLogger() });
    const b = new LeaderLease({ redis: rb, holder: 'b', leaseMs: 1000, logger: silentLogger() });
    await a.tick();
    await b.tick();
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const firstToken = a.token as number;
    expect(await f.redis.pttl(a.key)).toBeGreaterThan(500);

    const store = new ScalingStore(ra, 1000);
    expect(await store.writeDesired('p', a.key, a.value, decision(firstToken), 60_000)).toBe(true);

    // a stops renewing (a pause, a partition): the lease expires and b takes it.
    await new Promise((r) => setTimeout(r, 1100));
    expect(a.isLeader).toBe(false);
    await b.tick();
    expect(b.isLeader).toBe(true);
    expect(b.token).toBeGreaterThan(firstToken);
    // a's late write is refused inside Redis, and a learns it lost the lease on its next renewal.
    expect(await store.writeDesired('p', a.key, a.value, decision(firstToken), 60_000)).toBe(false);
    expect((await store.readDesired('p'))?.token).toBe(firstToken);
    await a.tick();
    expect(a.isLeader).toBe(false);

    // Releasing lets the other host in at once.
    await b.stop();
    await a.tick();
    expect(a.isLeader).toBe(true);
    await a.stop();
  });
});
