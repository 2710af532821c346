import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerManager } from '../../src/worker/worker-manager.js';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { childPids, isAlive, steadyPublisher } from '../helpers/load.js';
import { POOLS_ROUTERS, createTestManager } from '../helpers/manager.js';
import { connectClient, publishMany, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';
import { report, verdict } from '../helpers/checker.js';
import { killAllSpawned, spawnRouteMQ } from '../helpers/spawn-app.js';

const RECEIVE_MAXIMUM = 32;

describe('worker lifecycle: stop, reload, scale, several instances', () => {
  let broker: TestBroker;
  let dir: string;
  let manager: WorkerManager | undefined;
  let publisher: MqttClient | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    dir = mkdtempSync(join(tmpdir(), 'routemq-wl-'));
  });
  afterEach(async () => {
    await publisher?.endAsync(true);
    publisher = undefined;
    await manager?.stopWorkers();
    manager = undefined;
    for (const pid of childPids()) process.kill(pid, 'SIGKILL');
    await killAllSpawned();
  });
  afterAll(async () => {
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function cliEnv(extra: Record<string, string> = {}): Record<string, string> & { SEEN_FILE: string } {
    return {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(broker.port),
      MQTT_CLIENT_ID: uniqueName('wl'),
      MQTT_GROUP_NAME: uniqueName('g'),
      MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM),
      ROUTEMQ_INSTANCE_ID: 'one',
      ROUTEMQ_ROUTERS_DIR: POOLS_ROUTERS,
      ROUTEMQ_CONTROL_SOCKET: join(dir, `${uniqueName('ctl')}.sock`),
      SEEN_FILE: join(dir, `${uniqueName('seen')}.txt`),
      POOL_A_COUNT: '2',
      POOL_B_COUNT: '1',
      ...extra,
    };
  }

  it('stops on SIGTERM under load within the deadline, leaves no process, and loses nothing across the restart', async () => {
    const startedAt = Date.now();
    const env = cliEnv({ ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '5000' });
    const first = spawnRouteMQ(['start'], env);
    await first.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    const workerPids = first.logs().flatMap((l) => (l['msg'] === 'worker started' ? [l['workerPid'] as number] : []));
    expect(workerPids).toHaveLength(3);

    publisher = await connectClient(broker.url);
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
    const second = spawnRouteMQ(['start'], env);
    await second.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
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
    const app = spawnRouteMQ(['start'], env);
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    const workerPids = app.logs().flatMap((l) => (l['msg'] === 'worker started' ? [l['workerPid'] as number] : []));
    publisher = await connectClient(broker.url);
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
    const versionFile = join(dir, `${uniqueName('version')}.txt`);
    writeFileSync(versionFile, '1');
    const seenFile = join(dir, `${uniqueName('seen')}.txt`);
    ({ manager } = await createTestManager(broker, {
      SEEN_FILE: seenFile,
      VERSION_FILE: versionFile,
      POOL_A_COUNT: '2',
      MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM),
    }));
    await manager.startWorkers();
    const m = manager;
    publisher = await connectClient(broker.url);
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

    await load.done;
    await waitUntil(() => check(load.acked, readSeen(seenFile)).lost.length === 0, 30_000, 'every id handled');
    const seen = readSeen(seenFile);
    const result = check(load.acked, seen);
    report('6-rolling-reload', verdict(load.acked, seen), startedAt);
    expect(result).toEqual({ lost: [], duplicated: [], unexpected: [] });
    expect(seen.at(-1)?.version).toBe('2');
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
      const seenFile = join(dir, `${uniqueName('seen')}.txt`);
      ({ manager } = await createTestManager(broker, {
        SEEN_FILE: seenFile,
        POOL_A_COUNT: String(from),
        MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM),
      }));
      await manager.startWorkers();
      const m = manager;
      publisher = await connectClient(broker.url);
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
    const seenFile = join(dir, `${uniqueName('seen')}.txt`);
    const common = {
      MQTT_GROUP_NAME: group,
      SEEN_FILE: seenFile,
      POOL_A_COUNT: '1',
      MQTT_CLIENT_ID: uniqueName('two'),
    };
    const one = spawnRouteMQ(['start'], cliEnv({ ...common, ROUTEMQ_INSTANCE_ID: 'host-a' }));
    const two = spawnRouteMQ(['start'], cliEnv({ ...common, ROUTEMQ_INSTANCE_ID: 'host-b' }));
    await Promise.all([one, two].map((app) => app.waitForLog((l) => l['msg'] === 'RouteMQ is serving')));
    publisher = await connectClient(broker.url);
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
