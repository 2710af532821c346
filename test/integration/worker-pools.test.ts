import { existsSync, rmSync, writeFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { WorkerManager, WorkerManagerEvents } from '../../src/worker/worker-manager.js';
import { useFixture } from '../helpers/fixture.js';
import { childPids, steadyPublisher } from '../helpers/load.js';
import { connectClient, publishMany, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';
import { report, verdict } from '../helpers/checker.js';

const RECEIVE_MAXIMUM = 32;

describe('worker pools', () => {
  const f = useFixture();
  let manager: WorkerManager | undefined;
  let publisher: MqttClient | undefined;

  async function start(
    env: Record<string, string> = {},
  ): Promise<{ seenFile: string; lines: Record<string, unknown>[] }> {
    const seenFile = f.path('seen');
    const created = await f.manager({
      SEEN_FILE: seenFile,
      MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM),
      ROUTEMQ_HEARTBEAT_INTERVAL_MS: '200',
      ...env,
    });
    manager = created.manager;
    await manager.startWorkers();
    publisher = await f.connect();
    return { seenFile, lines: created.lines };
  }

  function nextEvent<K extends keyof WorkerManagerEvents>(
    name: K,
    predicate: (...args: WorkerManagerEvents[K]) => boolean = () => true,
    timeoutMs = 20_000,
  ): Promise<WorkerManagerEvents[K]> {
    const m = manager as WorkerManager;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${name} event within ${timeoutMs} ms`)), timeoutMs);
      const listener = (...args: WorkerManagerEvents[K]): void => {
        if (!predicate(...args)) return;
        clearTimeout(timer);
        (m.off as (n: K, l: typeof listener) => void)(name, listener);
        resolve(args);
      };
      (m.on as (n: K, l: typeof listener) => void)(name, listener);
    });
  }

  it('runs one pool per shared route: workerCount 3 and 1 make exactly 4 processes, each serving only its route', async () => {
    const { seenFile } = await start();
    expect(manager?.getWorkerCount()).toBe(4);
    expect(childPids()).toHaveLength(4);
    expect(manager?.getSharedRoutesInfo().map((r) => [r.topic, r.workerCount])).toEqual([
      ['pa/{id}', 3],
      ['pb/{id}', 1],
    ]);

    const client = publisher as MqttClient;
    await publishMany(client, 300, (i) => ({ topic: `pa/a${i}`, payload: '{}' }));
    await publishMany(client, 60, (i) => ({ topic: `pb/b${i}`, payload: '{}' }));
    await waitUntil(() => readSeen(seenFile).length >= 360, 20_000, '360 deliveries');

    const seen = readSeen(seenFile);
    const pidsA = new Set(seen.filter((s) => s.route === 'pa').map((s) => s.pid));
    const pidsB = new Set(seen.filter((s) => s.route === 'pb').map((s) => s.pid));
    expect(pidsA.size).toBe(3);
    expect(pidsB.size).toBe(1);
    expect([...pidsA].filter((pid) => pidsB.has(pid))).toEqual([]);
    for (const pid of pidsA) {
      const share = seen.filter((s) => s.route === 'pa' && s.pid === pid).length / 300;
      expect(share).toBeGreaterThanOrEqual(0.2);
    }
    expect(seen.every((s) => s.id.startsWith(s.route === 'pa' ? 'a' : 'b'))).toBe(true);
  });

  it('refuses startWorkers(n) for an app with several pools, since n sizes a single pool', async () => {
    const created = await f.manager({ SEEN_FILE: f.path('unused') });
    await expect(created.manager.startWorkers(2)).rejects.toMatchObject({ code: 'RMQ_ERR_ROUTE_OPTION_INVALID' });
    expect(childPids()).toEqual([]);
  });

  it('loses nothing when a worker is killed -9 under load, and the slot comes back with its session', async () => {
    const startedAt = Date.now();
    const { seenFile } = await start({ POOL_A_COUNT: '2' });
    const load = steadyPublisher(publisher as MqttClient, { topic: (id) => `pa/${id}`, ratePerSec: 2500, total: 5000 });
    await waitUntil(() => readSeen(seenFile).length >= 1000, 20_000, '1000 deliveries');
    const victim = manager?.getWorkerHealth().workers.find((w) => w.pool === 'pa-any' && w.slot === 0);
    expect(victim?.pid).toBeTypeOf('number');
    const back = nextEvent('worker.started', (e) => e.pool === 'pa-any' && e.slot === 0);
    process.kill(victim?.pid as number, 'SIGKILL');
    const [restarted] = await back;
    expect(restarted.sessionPresent).toBe(true);
    expect(restarted.pid).not.toBe(victim?.pid);

    await load.done;
    const acked = load.acked;
    expect(acked).toHaveLength(5000);
    await waitUntil(() => check(acked, readSeen(seenFile)).lost.length === 0, 30_000, 'every acked id handled');
    const result = check(acked, readSeen(seenFile));
    report('2-kill-9', verdict(acked, readSeen(seenFile)), startedAt);
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.duplicated.length).toBeLessThanOrEqual(RECEIVE_MAXIMUM);
  });

  it('kills a busy-looping worker as stuck, names its message, and the respawned slot gets the message again', async () => {
    const { seenFile, lines } = await start({ ROUTEMQ_STUCK_TIMEOUT_MS: '1500', POOL_A_COUNT: '1' });
    const stuck = nextEvent('worker.stuck');
    await (publisher as MqttClient).publishAsync('pb/looper', '{"loop":true}', { qos: 1 });
    const [event] = await stuck;
    expect(event.topic).toBe('pb/looper');
    expect(lines.some((l) => String(l['msg']).includes('worker stuck') && String(l['msg']).includes('pb/looper'))).toBe(
      true,
    );
    await waitUntil(() => readSeen(seenFile).some((s) => s.id === 'looper'), 20_000, 'the redelivered message');
    expect(readSeen(seenFile).find((s) => s.id === 'looper')?.dup).toBe(true);
  });

  it('marks a crash-looping pool degraded after maxRestarts', async () => {
    await start({
      ROUTEMQ_MAX_RESTARTS: '2',
      ROUTEMQ_RESTART_WINDOW_MS: '60000',
      ROUTEMQ_RESTART_BASE_MS: '50',
      // Crash-poison detection would dead-letter the message after 2 deaths and end the loop: keep it looping.
      ROUTEMQ_MAX_CRASHES: '100',
      POOL_A_COUNT: '1',
    });
    const degraded = nextEvent('pool.degraded');
    await (publisher as MqttClient).publishAsync('pb/poison', '{"exit":true}', { qos: 1 });
    const [event] = await degraded;
    expect(event).toMatchObject({ pool: 'pb-any', restarts: 3 });
    const pool = manager?.getWorkerHealth().pools.find((p) => p.name === 'pb-any');
    expect(pool?.degraded).toBe(true);
    expect(pool?.live).toBe(0);
    // The other pool is unaffected.
    expect(manager?.getWorkerHealth().pools.find((p) => p.name === 'pa-any')?.ready).toBe(1);
  });

  it('gives a slot up when another client keeps taking its client id: no kick ping-pong', async () => {
    await start({ POOL_A_COUNT: '2', ROUTEMQ_RESTART_MAX_MS: '60000' });
    const victim = manager?.getWorkerHealth().workers.find((w) => w.workerId === 'pa-any-0');
    const exited = nextEvent('worker.exited', (e) => e.workerId === 'pa-any-0');
    // A persistent client that reconnects at once whenever it is kicked, like a second deployment would.
    const intruder = await connectClient(f.broker.url, {
      clientId: victim?.clientId as string,
      clean: false,
      reconnectPeriod: 100,
    });
    let kicks = 0;
    intruder.on('close', () => kicks++);
    try {
      const [exit] = await exited;
      expect(exit.code).toBe(3);
      const kicksAtExit = kicks;
      await new Promise((r) => setTimeout(r, 2500));
      expect(kicks).toBe(kicksAtExit);
      const health = manager?.getWorkerHealth();
      expect(health?.workers.map((w) => w.workerId).sort()).toEqual(['pa-any-1', 'pb-any-0']);
      expect(health?.pools.find((p) => p.name === 'pa-any')?.totalRestarts).toBe(0);
    } finally {
      await intruder.endAsync(true);
    }
  });

  it('stops a worker asked to stop while it was still starting as soon as it serves, not at the SIGTERM deadline', async () => {
    // Each worker loads its route files only once the gate file exists; a stop that the worker dropped would only
    // end at the SIGTERM escalation, 10 minutes later (past the test's timeout).
    const gate = f.path('gate');
    writeFileSync(gate, '');
    await start({ START_GATE: gate, POOL_A_COUNT: '1', ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '600000' });
    const m = manager as WorkerManager;
    rmSync(gate);
    const scaling = m.scaleTo('pa-any', 2).catch((err: unknown) => err);
    await waitUntil(() => childPids().length === 3, 20_000, 'the new worker process');
    // stopWorkers sends every worker its shutdown message at once, the new one still waiting at the gate; then the
    // gate opens and the new worker goes on starting.
    const stopping = m.stopWorkers();
    expect(existsSync(gate)).toBe(false);
    writeFileSync(gate, '');
    await stopping;
    await scaling;
    expect(childPids()).toEqual([]);
  });
});
