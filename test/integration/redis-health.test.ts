import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';

// The real Redis on 127.0.0.1:6379 (.ci/run starts it when missing); each test uses its own key prefix.
describe('health mirrored into Redis', () => {
  const f = useFixture({
    routers: POOLS_ROUTERS,
    redis: true,
    env: { ROUTEMQ_HEALTH_INTERVAL_MS: '300', ENABLE_REDIS: 'true', POOL_A_COUNT: '1', POOL_B_COUNT: '1' },
  });

  it('writes lifecycle events to a capped stream and keeps a heartbeat key with a TTL per worker', async () => {
    const prefix = f.prefix('rmqtest');
    const app = f.spawn(['start'], f.env({ ROUTEMQ_REDIS_PREFIX: prefix }));
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    const types = async (): Promise<string[]> =>
      (await f.redis.xrange(`${prefix}events`, '-', '+')).map(([, fields]) => fields[fields.indexOf('type') + 1] ?? '');
    let seen: string[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && seen.filter((t) => t === 'worker.started').length < 2) {
      seen = await types();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.filter((t) => t === 'worker.started')).toHaveLength(2);
    const heartbeat = `${prefix}heartbeat:test:pa-any-0`;
    // A sample taken just before the worker's ready message still says 'starting'; the next one says 'ready'.
    const status = async (): Promise<string | undefined> =>
      (JSON.parse((await f.redis.get(heartbeat)) ?? '{}') as { status?: string }).status;
    while (Date.now() < deadline && (await status()) !== 'ready') await new Promise((r) => setTimeout(r, 100));
    expect(await status()).toBe('ready');
    expect(await f.redis.pttl(heartbeat)).toBeGreaterThan(0);
    expect((await app.stop()).code).toBe(0);
  });

  it('runs without Redis when it is unreachable: one warning, no crash, /ready stays 200', async () => {
    const port = await freePort();
    const httpPort = await freePort();
    const app = f.spawn(
      ['start'],
      f.env({ REDIS_PORT: String(port), HEALTH_HTTP_ENABLED: 'true', HEALTH_HTTP_PORT: String(httpPort) }),
    );
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    await app.waitForLog((l) => String(l['msg']).startsWith('Redis unavailable'));
    await new Promise((r) => setTimeout(r, 1500));
    const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, dependencies: { redis: 'down' } });
    expect(app.logs().filter((l) => String(l['msg']).startsWith('Redis unavailable'))).toHaveLength(1);
    expect((await app.stop()).code).toBe(0);
  });
});
