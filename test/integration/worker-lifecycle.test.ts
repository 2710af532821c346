import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { isAlive, steadyPublisher } from '../helpers/load.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';
import { publishMany, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';
import { report, verdict } from '../helpers/checker.js';

const RECEIVE_MAXIMUM = 32;

describe('worker lifecycle: stop, reload, scale, several instances', () => {
  const f = useFixture({
    routers: POOLS_ROUTERS,
    env: {
      MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM),
      ROUTEMQ_INSTANCE_ID: 'one',
      POOL_A_COUNT: '2',
      POOL_B_COUNT: '1',
    },
  });

  /** The CLI's env, with a control socket of its own. */
  function cliEnv(extra: Record<string, string> = {}): ReturnType<typeof f.env> {
    return f.env({ ROUTEMQ_CONTROL_SOCKET: f.path('ctl', '.sock'), ...extra });
  }

  it('stops on SIGTERM under load within the deadline, leaves no process, and loses nothing across the restart', async () => {
    const startedAt = Date.now();
    const env = cliEnv({ ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '5000' });
    const first = await f.serve(env);
    const workerPids = first.logs().flatMap((l) => (l['msg'] === 'worker started' ? [l['workerPid'] as number] : []));
    expect(workerPids).toHaveLength(3);

    const publisher = await f.connect();
    const load = steadyPublisher(publisher, { topic: (id) => `pa/${id}`, ratePerSec: 1000, total: 5000 });
    await waitUntil(() => readSeen(env.SEEN_FILE).length >= 1500, 20_000, '1500 deliveries');
    const stopStarted = Date.now();
    const exit = await first.stop(20_000);
    const stopMs = Date.now() - stopStarted;
    expect(exit.code).toBe(0);
    expect(stopMs).toBeLessThan(5000);
    expect(workerPids.filter(isAlive)).toEqual([]);

    // Messages keep arriving at the broker while the app is down; the sessions queue them.
    await new Promise((r) => setTimeout(r, 1000));
    const second = await f.serve(env);
    await load.done;
    expect(load.acked).toHaveLength(5000);
    await waitUntil(() => check(load.acked, readSeen(env.SEEN_FILE)).lost.length === 0, 30_000, 'every id handled');
    const result = check(load.acked, readSeen(env.SEEN_FILE));
    report('5-sigterm', verdict(load.acked, readSeen(env.SEEN_FILE)), startedAt);
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.duplicated.length).toBeLessThanOrEqual(RECEIVE_MAXIMUM * 2);
    expect((await second.stop()).code).toBe(0);
  });

  it('kills every worker at once on a second signal, leaving no process behind', async () => {
    const env = cliEnv({ ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '30000' });
    const app = await f.serve(env);
    const workerPids = app.logs().flatMap((l) => (l['msg'] === 'worker started' ? [l['workerPid'] as number] : []));
    const publisher = await f.connect();
    await publisher.publishAsync('pb/hang', '{"delayMs":60000}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    app.child.kill('SIGTERM');
    await app.waitForLog((l) => String(l['msg']).startsWith('shutting down gracefully'));
    app.child.kill('SIGTERM');
    expect((await app.exited).code).toBe(130);
    await waitUntil(() => workerPids.filter(isAlive).length === 0, 2000, 'every worker to be gone');
  });

  it('reloads under load one slot at a time: route-file changes picked up, nothing lost or duplicated, never 0 workers', async () => {
    const startedAt = Date.now();
    const versionFile = f.path('version');
    writeFileSync(versionFile, '1');
    const seenFile = f.path('seen');
    const { manager } = await f.manager({
      SEEN_FILE: seenFile,
      VERSION_FILE: versionFile,
      POOL_A_COUNT: '2',
      MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM),
    });
    await manager.startWorkers();
    const m = manager;
    const publisher = await f.connect();
    const load = steadyPublisher(publisher, { topic: (id) => `pa/${id}`, ratePerSec: 1000, total: 4000 });
    await waitUntil(() => readSeen(seenFile).length >= 500, 20_000, '500 deliveries');

    let minReady = Infinity;
    const sampler = setInterval(() => {
      const pool = m.getWorkerHealth().pools.find((p) => p.name === 'pa-any');
      minReady = Math.min(minReady, pool?.ready ?? 0);
    }, 5);
    writeFileSync(versionFile, '2');
    await m.reload();
    clearInterval(sampler);
    expect(minReady).toBeGreaterThanOrEqual(1);

    // Published once the reload is done (the steady load may have ended before it on a slow machine): only the new
    // code may handle these.
    const after = Array.from({ length: 50 }, (_, i) => `reloaded-${i}`);
    await publishMany(publisher, after.length, (i) => ({ topic: `pa/${after[i]}`, payload: '{}' }));
    await load.done;
    const acked = [...load.acked, ...after];
    await waitUntil(() => check(acked, readSeen(seenFile)).lost.length === 0, 30_000, 'every id handled');
    const seen = readSeen(seenFile);
    const result = check(acked, seen);
    report('6-rolling-reload', verdict(acked, seen), startedAt);
    expect(result).toEqual({ lost: [], duplicated: [], unexpected: [] });
    const versionsAfter = new Set(seen.filter((s) => after.includes(s.id)).map((s) => s.version));
    expect(versionsAfter).toEqual(new Set(['2']));
    expect(m.getWorkerCount()).toBe(3);

    // New route files that fail to load leave the running workers alone.
    const pidsBefore = m.getWorkerHealth().workers.map((w) => w.pid);
    writeFileSync(versionFile, 'broken');
    await expect(m.reload()).rejects.toMatchObject({ code: 'RMQ_ERR_ROUTE_FILE_INVALID' });
    expect(m.getWorkerHealth().workers.map((w) => w.pid)).toEqual(pidsBefore);
  });

  it.each([
    [3, 1],
    [4, 2],
  ])(
    'scales %i → %i under load without loss or duplicates, leaving no session of the removed slots behind',
    async (from, to) => {
      const startedAt = Date.now();
      const seenFile = f.path('seen');
      const { manager } = await f.manager({
        SEEN_FILE: seenFile,
        POOL_A_COUNT: String(from),
        MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM),
      });
      await manager.startWorkers();
      const m = manager;
      const publisher = await f.connect();
      const load = steadyPublisher(publisher, { topic: (id) => `pa/${id}`, ratePerSec: 1000, total: 3000 });
      await waitUntil(() => readSeen(seenFile).length >= 800, 20_000, '800 deliveries');
      await m.scaleTo('pa-any', to);
      expect(m.getWorkerHealth().pools.find((p) => p.name === 'pa-any')?.live).toBe(to);
      await load.done;
      await waitUntil(() => check(load.acked, readSeen(seenFile)).lost.length === 0, 30_000, 'every id handled');
      report(`7-scale-down-${from}-to-${to}`, verdict(load.acked, readSeen(seenFile)), startedAt);
      expect(check(load.acked, readSeen(seenFile))).toEqual({ lost: [], duplicated: [], unexpected: [] });

      // A stale session would still take its share of these into a queue nobody reads.
      const survivors = new Set(
        m
          .getWorkerHealth()
          .workers.filter((w) => w.pool === 'pa-any')
          .map((w) => w.pid),
      );
      await publishMany(publisher, 90, (i) => ({ topic: `pa/after-${i}`, payload: '{}' }));
      await waitUntil(
        () => readSeen(seenFile).filter((s) => s.id.startsWith('after-')).length >= 90,
        10_000,
        'all 90 messages at the remaining workers',
      );
      const after = readSeen(seenFile).filter((s) => s.id.startsWith('after-'));
      expect(new Set(after.map((s) => s.pid))).toEqual(survivors);
    },
  );

  it('lets two instances with different instance ids share one group without client-id clashes', async () => {
    const group = uniqueName('shared');
    const seenFile = f.path('seen');
    const common = {
      MQTT_GROUP_NAME: group,
      SEEN_FILE: seenFile,
      POOL_A_COUNT: '1',
      MQTT_CLIENT_ID: uniqueName('two'),
    };
    const one = f.spawn(['start'], cliEnv({ ...common, ROUTEMQ_INSTANCE_ID: 'host-a' }));
    const two = f.spawn(['start'], cliEnv({ ...common, ROUTEMQ_INSTANCE_ID: 'host-b' }));
    await Promise.all([one, two].map((app) => app.waitForLog((l) => l['msg'] === 'RouteMQ is serving')));
    const publisher = await f.connect();
    await publishMany(publisher, 200, (i) => ({ topic: `pa/${i}`, payload: '{}' }));
    await waitUntil(() => readSeen(seenFile).length >= 200, 15_000, '200 deliveries');
    const byPid = new Map<number, number>();
    for (const s of readSeen(seenFile)) byPid.set(s.pid, (byPid.get(s.pid) ?? 0) + 1);
    expect(byPid.size).toBe(2);
    for (const n of byPid.values()) expect(n).toBeGreaterThanOrEqual(60);
    const clientIds = [one, two].flatMap((app) =>
      app.logs().flatMap((l) => (l['msg'] === 'MQTT connected' ? [l['clientId'] as string] : [])),
    );
    expect(new Set(clientIds).size).toBe(clientIds.length);
    for (const app of [one, two]) {
      expect(
        app
          .logs()
          .filter((l) => l['msg'] === 'MQTT connection lost' || l['code'] === 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER'),
      ).toEqual([]);
      expect((await app.stop()).code).toBe(0);
    }
  });
});
