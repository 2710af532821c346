import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { steadyPublisher } from '../helpers/load.js';
import { uniqueName, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/faults/routers', import.meta.url));

interface StreamEvent {
  readonly type: string;
  readonly instance: string;
  readonly at: number;
  readonly data: Record<string, unknown>;
}

// The real Redis on 127.0.0.1:6379 (.ci/run starts it); each test has its own key prefix and share group.
describe('autoscaler (Redis)', () => {
  const f = useFixture({
    routers: ROUTERS,
    redis: true,
    env: {
      ROUTEMQ_INSTANCE_ID: 'host-a',
      ROUTEMQ_HEARTBEAT_INTERVAL_MS: '250',
      ROUTEMQ_HEALTH_INTERVAL_MS: '500',
      ENABLE_REDIS: 'true',
      WORKER_AUTO_SCALE: 'true',
      WORKER_MIN_COUNT: '1',
      WORKER_MAX_COUNT: '4',
      ROUTEMQ_SCALE_INTERVAL_MS: '500',
      ROUTEMQ_SCALE_UP_COOLDOWN_MS: '1000',
      ROUTEMQ_SCALE_DOWN_COOLDOWN_MS: '1000',
      ROUTEMQ_SCALE_DOWN_STABILIZATION_MS: '2000',
      ROUTEMQ_SCALE_LEASE_MS: '2000',
      FAULTS_WORKERS: '1',
    },
  });

  /** A key prefix, and the env of this test's hosts (one share group and client-id prefix for all of them). */
  function setup(): {
    prefix: string;
    seenFile: string;
    env: (extra: Record<string, string>) => Record<string, string>;
  } {
    const prefix = f.prefix('rmqas');
    const base = f.env({ ROUTEMQ_REDIS_PREFIX: prefix });
    return { prefix, seenFile: base.SEEN_FILE, env: (extra) => ({ ...base, ...extra }) };
  }

  async function events(prefix: string): Promise<StreamEvent[]> {
    return (await f.redis.xrange(`${prefix}events`, '-', '+')).map(([, fields]) => {
      const get = (name: string): string => fields[fields.indexOf(name) + 1] ?? '';
      return {
        type: get('type'),
        instance: get('instance'),
        at: Number(get('at')),
        data: JSON.parse(get('data')) as Record<string, unknown>,
      };
    });
  }

  async function poolSize(prefix: string, instance = 'host-a'): Promise<number | undefined> {
    const report = await f.redis.get(`${prefix}scaling:load:faults:${instance}`);
    return report === null ? undefined : (JSON.parse(report) as { current: number }).current;
  }

  async function started(app: SpawnedApp): Promise<void> {
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
  }

  it('scales a busy pool up to its maximum under load, back down when the load stops, and loses nothing', async () => {
    const { prefix, seenFile, env } = setup();
    // Each worker runs one 30 ms handler at a time: 33 msg/s at most. The publisher's ~100 msg/s keeps even 3 workers
    // fully busy, so the pool must reach 4.
    const app = f.spawn(['start'], env({ ROUTEMQ_CONCURRENCY: '1' }));
    await started(app);
    const client = await f.connect({ clientId: uniqueName('pub') });
    const publisher = steadyPublisher(client, {
      topic: (id) => `fa/${id}`,
      ratePerSec: 120,
      payload: JSON.stringify({ delayMs: 30 }),
    });
    try {
      await waitUntil(async () => (await poolSize(prefix)) === 4, 30_000, 'the pool reached 4 workers');
    } finally {
      await publisher.stop();
    }
    await waitUntil(async () => (await poolSize(prefix)) === 1, 30_000, 'the pool went back to 1 worker');
    await waitUntil(
      () => {
        const seen = new Set(readSeen(seenFile).map((s) => s.id));
        return Promise.resolve(publisher.acked.every((id) => seen.has(id)));
      },
      15_000,
      'every acked message was handled',
    );
    const result = check(publisher.acked, readSeen(seenFile));
    expect(result.lost).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(publisher.acked.length).toBeGreaterThan(100);

    const scaledDown = async (): Promise<boolean> =>
      (await events(prefix)).some((e) => e.type === 'pool.scaled' && e.data['to'] === 1);
    await waitUntil(scaledDown, 20_000, 'the last scale-down event');
    const scaled = (await events(prefix)).filter((e) => e.type === 'pool.scaled');
    const ups = scaled.filter((e) => (e.data['to'] as number) > (e.data['from'] as number));
    const downs = scaled.filter((e) => (e.data['to'] as number) < (e.data['from'] as number));
    expect(ups.length).toBeGreaterThan(0);
    expect(downs.length).toBeGreaterThan(0);
    for (const e of scaled) {
      expect(e.data['reason']).toMatch(/^autoscaler: scale (up|down) \d+ → \d+: busy/);
      expect(e.data['inputs']).toMatchObject({ busyRatio: expect.any(Number), targetBusy: 0.7, hosts: 1 });
    }
    expect(ups[0]?.data['inputs']).toMatchObject({ busyRatio: expect.any(Number) });
    expect((ups[0]?.data['inputs'] as { busyRatio: number }).busyRatio).toBeGreaterThan(0.77);
    expect((await app.stop()).code).toBe(0);
  }, 120_000);

  it('scales up from an external metrics:queue_depth, as RouteMQ (Python) reads it, and back down when it clears', async () => {
    const { prefix, env } = setup();
    const port = await freePort();
    const app = f.spawn(
      ['start'],
      env({
        ROUTEMQ_SCALE_QUEUE_DEPTH_PER_WORKER: '100',
        HEALTH_HTTP_ENABLED: 'true',
        METRICS_HTTP_ENABLED: 'true',
        HEALTH_HTTP_PORT: String(port),
      }),
    );
    await started(app);
    await waitUntil(async () => (await poolSize(prefix)) === 1, 10_000, 'the host reported its load');
    await f.redis.set(`${prefix}metrics:queue_depth`, '350');
    await waitUntil(async () => (await poolSize(prefix)) === 4, 20_000, 'the pool reached 4 workers');
    // The report says 4 as the resize starts; the event comes once the new workers are up.
    await waitUntil(
      async () => (await events(prefix)).some((e) => e.type === 'pool.scaled'),
      20_000,
      'the pool.scaled event',
    );
    const up = (await events(prefix)).find((e) => e.type === 'pool.scaled');
    expect(up?.data).toMatchObject({ from: 1, to: 4, inputs: { queueDepth: 350 } });
    expect(up?.data['reason']).toContain('queue depth 350');

    // The same signal for external autoscalers: /scaling (KEDA metrics-api) and gauges.
    const scaling = (await (await fetch(`http://127.0.0.1:${port}/scaling`)).json()) as Record<string, unknown>;
    expect(scaling).toMatchObject({
      instance: 'host-a',
      autoScale: true,
      leader: true,
      pools: { faults: { current: 4, desired: 4, desiredHere: 4, queueDepth: 350, minWorkers: 1, maxWorkers: 4 } },
    });
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('routemq_pool_desired_workers{pool="faults"} 4');
    expect(metrics).toContain('routemq_pool_queue_depth{pool="faults"} 350');
    expect(metrics).toMatch(/routemq_pool_busy_ratio\{pool="faults"\} [\d.]+/);
    await f.redis.del(`${prefix}metrics:queue_depth`);
    await waitUntil(async () => (await poolSize(prefix)) === 1, 20_000, 'the pool went back to 1 worker');
    expect((await app.stop()).code).toBe(0);
  }, 90_000);

  it('lets one of two hosts decide at a time, and hands over within a lease period when the leader dies', async () => {
    const { prefix, env } = setup();
    const a = f.spawn(['start'], env({ ROUTEMQ_INSTANCE_ID: 'host-a' }));
    await a.waitForLog((l) => l['msg'] === 'this host is now the autoscaler leader');
    const b = f.spawn(['start'], env({ ROUTEMQ_INSTANCE_ID: 'host-b' }));
    await started(b);
    // Give b several lease renewals' worth of time to (wrongly) take the lease.
    await waitUntil(async () => (await poolSize(prefix, 'host-b')) !== undefined, 10_000, 'both hosts reported');
    await f.redis.set(`${prefix}metrics:queue_depth`, '400');
    await waitUntil(
      async () => {
        return (await poolSize(prefix, 'host-a')) === 2 && (await poolSize(prefix, 'host-b')) === 2;
      },
      20_000,
      'each host runs 2 of the 4 workers',
    );
    expect((await f.redis.get(`${prefix}scaling:leader`)) ?? '').toMatch(/^host-a\//);
    expect(b.logs().some((l) => l['msg'] === 'this host is now the autoscaler leader')).toBe(false);

    const killedAt = Date.now();
    process.kill(-(a.child.pid as number), 'SIGKILL');
    await b.waitForLog((l) => l['msg'] === 'this host is now the autoscaler leader', 10_000);
    const handover = Date.now() - killedAt;
    // The lease (2 s) runs out, then b's next try (every third of the lease) takes it: about 2.7 s, plus the
    // time the log line takes to reach the test on a loaded machine.
    expect(handover).toBeLessThan(2 * 2000 + 1000);
    // Alone now, b takes the whole pool once a's report expires.
    await waitUntil(async () => (await poolSize(prefix, 'host-b')) === 4, 20_000, 'host-b runs all 4 workers');

    const decisions = (await events(prefix)).filter((e) => e.type === 'scaling.decision');
    const leaders = (await events(prefix)).filter((e) => e.type === 'scaling.leader' && e.data['leader'] === true);
    expect(leaders.map((e) => e.instance)).toEqual(['host-a', 'host-b']);
    const bTookOver = leaders[1]?.at ?? 0;
    expect(decisions.length).toBeGreaterThan(0);
    for (const d of decisions) expect(d.instance).toBe(d.at < bTookOver ? 'host-a' : 'host-b');
    expect(decisions.some((d) => d.instance === 'host-b')).toBe(true);
    expect((await b.stop()).code).toBe(0);
  }, 120_000);
});
