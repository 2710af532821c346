import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterEnvelope } from '../../src/index.js';
import { useFixture } from '../helpers/fixture.js';
import { steadyPublisher } from '../helpers/load.js';
import { uniqueName, waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import type { TestRedis } from '../helpers/redis-server.js';
import { deadLetterIds, report, verdict } from '../helpers/checker.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/ratelimit/routers', import.meta.url));
const LONG = process.env['ROUTEMQ_LONG_FAULTS'] === '1';

// Scenario 12 against a private redis-server the test stops and starts: 5 s in `npm test`, the full 30 s with
// ROUTEMQ_LONG_FAULTS=1.
describe('fault suite: Redis outage', () => {
  const f = useFixture({ routers: ROUTERS });
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await f.redisServer();
  });

  const outages = LONG ? [5_000, 30_000] : [5_000];
  it.each(outages)(
    '12. Redis down %i ms while rate limiting (fail closed) and autoscaling are on: backpressure, never a drop',
    async (outageMs) => {
      const startedAt = Date.now();
      const env = f.env({
        ENABLE_REDIS: 'true',
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(redis.port),
        ROUTEMQ_REDIS_PREFIX: `${uniqueName('f12')}:`,
        WORKER_AUTO_SCALE: 'true',
        WORKER_MAX_COUNT: '4',
        ROUTEMQ_SCALE_INTERVAL_MS: '500',
        ROUTEMQ_SCALE_LEASE_MS: '2000',
        ROUTEMQ_SCALE_UP_COOLDOWN_MS: '1000',
        RL_MAX: '50',
        RL_WINDOW_MS: '500',
        RL_ON_REDIS_DOWN: 'deny',
      });
      const seenFile = env.SEEN_FILE;
      const app = await f.serve(env);
      await app.waitForLog((l) => l['msg'] === 'this host is now the autoscaler leader');
      const client = await f.connect({ clientId: uniqueName('pub') });
      const dead: DeadLetterEnvelope[] = [];
      client.on('message', (_t, payload) => dead.push(JSON.parse(payload.toString()) as DeadLetterEnvelope));
      await client.subscribeAsync('routemq/dlq/#', { qos: 1 });
      const load = steadyPublisher(client, { topic: (id) => `rl/${id}`, ratePerSec: 40 });
      await waitUntil(() => readSeen(seenFile).length >= 40, 10_000, '40 deliveries before the outage');

      await redis.stop();
      const downAt = Date.now();
      await new Promise((r) => setTimeout(r, outageMs));
      const handledDuringOutage = readSeen(seenFile).filter((s) => Number(s.version) > downAt + 1000).length;
      await redis.start();
      const upAt = Date.now();
      await new Promise((r) => setTimeout(r, 3000));
      await load.stop();

      const all = (): string[] => [...readSeen(seenFile).map((s) => s.id), ...deadLetterIds(dead)];
      try {
        await waitUntil(
          () => verdict(load.acked, readSeen(seenFile), deadLetterIds(dead)).lost.length === 0,
          60_000,
          'every acked id handled or dead-lettered',
        );
      } catch (err) {
        const missing = verdict(load.acked, readSeen(seenFile), deadLetterIds(dead)).lost;
        const tail = app.lines.filter((l) => !l.includes('"level":30') || l.includes('scal')).slice(-60);
        throw new Error(
          `${String(err)}; missing ${missing.length}: ${missing.slice(0, 20).join(' ')}\n${tail.join('\n')}`,
        );
      }
      const v = verdict(load.acked, readSeen(seenFile), deadLetterIds(dead));
      report(`12-redis-down-${outageMs / 1000}s`, v, startedAt);
      expect(v.lost).toEqual([]);
      expect(v.unexpected).toEqual([]);
      expect(all().length).toBeGreaterThanOrEqual(load.acked.length);
      // Fail closed: nothing passed the limiter while Redis was down (messages waited, unacked)…
      expect(handledDuringOutage).toBe(0);
      // …and they flowed again once it was back.
      expect(readSeen(seenFile).filter((s) => Number(s.version) >= upAt).length).toBeGreaterThan(0);
      // Nothing crashed: no worker exit, one warning per process and outage, no unhandled error.
      const logs = app.logs();
      expect(logs.filter((l) => l['msg'] === 'worker exited unexpectedly')).toEqual([]);
      expect(logs.filter((l) => Number(l['level']) >= 50)).toEqual([]);
      expect(app.child.exitCode).toBeNull();
      expect((await app.stop()).code).toBe(0);
    },
    180_000,
  );
});
