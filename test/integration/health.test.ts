import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { POOLS_ROUTERS } from '../helpers/manager.js';
import { publishMany, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';
import { collectSse } from '../helpers/sse.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

const TOKEN = 'health-token-s3cret';

describe('health monitor, HTTP probes, metrics and events', () => {
  const f = useFixture({
    routers: POOLS_ROUTERS,
    env: {
      ROUTEMQ_HEALTH_INTERVAL_MS: '300',
      ROUTEMQ_HEARTBEAT_INTERVAL_MS: '200',
      HEALTH_HTTP_ENABLED: 'true',
      METRICS_HTTP_ENABLED: 'true',
      POOL_A_COUNT: '2',
      POOL_B_COUNT: '1',
    },
  });

  async function startApp(
    extra: Record<string, string> = {},
  ): Promise<{ app: SpawnedApp; base: string; seenFile: string }> {
    const port = await freePort();
    const env = f.env({ HEALTH_HTTP_PORT: String(port), ...extra });
    return { app: f.spawn(['start'], env), base: `http://127.0.0.1:${port}`, seenFile: env.SEEN_FILE };
  }

  async function get(url: string, token?: string): Promise<{ status: number; body: string }> {
    const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return { status: response.status, body: await response.text() };
  }

  async function status(base: string): Promise<HealthSnapshot> {
    return JSON.parse((await get(`${base}/status`)).body) as HealthSnapshot;
  }

  it('turns /ready from 503 to 200 as workers come up, and shows a kill -9 in /status, /metrics and /events', async () => {
    const { app, base } = await startApp();
    const seenStatuses: number[] = [];
    // Poll until ready, recording what /ready said on the way.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        const r = await get(`${base}/ready`);
        seenStatuses.push(r.status);
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seenStatuses[0]).toBe(503);
    expect(seenStatuses.at(-1)).toBe(200);
    expect((await get(`${base}/health`)).status).toBe(200);

    const sse = await collectSse(`${base}/events`);
    f.defer(() => sse.close());
    const before = await status(base);
    expect(before.workers).toHaveLength(3);
    const victim = before.workers.find((w) => w.workerId === 'pa-any-0');
    expect(victim?.cpuPercent).toBeTypeOf('number');
    process.kill(victim?.pid as number, 'SIGKILL');

    await waitUntil(
      () => sse.events.some((e) => e.event === 'lifecycle' && (e.data as { type: string }).type === 'worker.restarted'),
      10_000,
      'a worker.restarted event',
    );
    const after = await status(base);
    expect(after.workers.find((w) => w.workerId === 'pa-any-0')?.restarts).toBe(1);
    expect(after.workers.find((w) => w.workerId === 'pa-any-0')?.pid).not.toBe(victim?.pid);
    const metrics = parsePrometheus((await get(`${base}/metrics`)).body);
    const restarts = metrics.find((m) => m.name === 'routemq_worker_restarts_total');
    expect(restarts?.metrics.find((m) => m.labels?.['pool'] === 'pa-any')?.value).toBe('1');
    expect(sse.events.some((e) => e.event === 'health')).toBe(true);
    expect((await app.stop()).code).toBe(0);
  });

  it('sums the handled counter over every worker to the number of messages sent', async () => {
    const { app, base, seenFile } = await startApp();
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    const publisher = await f.connect();
    await publishMany(publisher, 300, (i) => ({ topic: `pa/m${i}`, payload: '{}' }));
    await publishMany(publisher, 100, (i) => ({ topic: `pb/m${i}`, payload: '{}' }));
    await waitUntil(() => readSeen(seenFile).length >= 400, 15_000, '400 deliveries');
    const handled = async (): Promise<number> => {
      const metrics = parsePrometheus((await get(`${base}/metrics`)).body);
      const counter = metrics.find((m) => m.name === 'routemq_messages_handled_total');
      return (counter?.metrics ?? []).reduce((sum, m) => sum + Number(m.value), 0);
    };
    const deadline = Date.now() + 10_000;
    let total = await handled();
    while (total !== 400 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      total = await handled();
    }
    expect(total).toBe(400);
    const metrics = parsePrometheus((await get(`${base}/metrics`)).body);
    const byRoute = metrics.find((m) => m.name === 'routemq_messages_handled_total')?.metrics ?? [];
    expect(byRoute.map((m) => [m.labels?.['route'], m.value]).sort()).toEqual([
      ['pa/{id}', '300'],
      ['pb/{id}', '100'],
    ]);
    const histogram = metrics.find((m) => m.name === 'routemq_handler_duration_seconds');
    expect(histogram?.type).toBe('HISTOGRAM');
    expect(metrics.some((m) => m.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect((await app.stop()).code).toBe(0);
  });

  it('reports a crash-looping pool on /ready with the reason', async () => {
    // A crash loop (crash-poison detection would end it with a dead letter after ROUTEMQ_MAX_CRASHES deaths).
    const { app, base } = await startApp({
      ROUTEMQ_MAX_RESTARTS: '1',
      ROUTEMQ_RESTART_BASE_MS: '50',
      ROUTEMQ_MAX_CRASHES: '100',
    });
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    const publisher = await f.connect();
    await publisher.publishAsync('pb/poison', '{"exit":true}', { qos: 1 });
    let ready = await get(`${base}/ready`);
    const deadline = Date.now() + 15_000;
    // First the pool has no ready worker while it restarts; then the crash loop marks it degraded.
    while (!ready.body.includes('degraded') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await get(`${base}/ready`);
    }
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: false, problems: ['pool pb-any is degraded (crash loop)'] });
    await app.stop();
  });

  it('answers 404 and 405 in JSON, serves /asyncapi.json, and guards everything but /health and the status of /ready with the bearer token', async () => {
    const { app, base } = await startApp({ HEALTH_HTTP_TOKEN: TOKEN, POOL_A_COUNT: '1' });
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    expect((await get(`${base}/health`)).status).toBe(200);
    // A probe cannot send the token: /ready answers its status, and its details only with the token.
    const bare = await get(`${base}/ready`);
    expect(bare.status).toBe(200);
    expect(JSON.parse(bare.body)).toEqual({ ready: true });
    const detailed = await get(`${base}/ready`, TOKEN);
    expect(detailed.status).toBe(200);
    expect(JSON.parse(detailed.body)).toMatchObject({ ready: true, problems: [], dependencies: {} });
    expect(JSON.parse((await get(`${base}/ready`, 'wrong')).body)).toEqual({ ready: true });
    expect((await get(`${base}/scaling`)).status).toBe(401);
    expect((await get(`${base}/status`)).status).toBe(401);
    expect((await get(`${base}/metrics`)).status).toBe(401);
    expect((await get(`${base}/asyncapi.json`)).status).toBe(401);
    expect((await get(`${base}/status`, 'wrong')).status).toBe(401);
    const asyncapi = await get(`${base}/asyncapi.json`, TOKEN);
    expect(asyncapi.status).toBe(200);
    const doc = JSON.parse(asyncapi.body) as { asyncapi: string; channels: Record<string, { address: string }> };
    expect(doc.asyncapi).toBe('3.0.0');
    expect(Object.values(doc.channels).map((c) => c.address)).toEqual(['pa/{id}', 'pb/{id}']);
    const ok = await get(`${base}/status`, TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.body).not.toContain(TOKEN);
    const missing = await get(`${base}/nope`, TOKEN);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: 'not found' });
    const post = await fetch(`${base}/ready`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(post.status).toBe(405);
    expect(app.lines.join('\n')).not.toContain(TOKEN);
    await app.stop();
  });

  it('drains and replaces a worker over its memory limit without losing a message', async () => {
    const { app, base, seenFile } = await startApp({ ROUTEMQ_MAX_MEMORY_MB: '160', POOL_A_COUNT: '1' });
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    const before = (await status(base)).workers.find((w) => w.workerId === 'pa-any-0')?.pid;
    const publisher = await f.connect();
    await publisher.publishAsync('pa/hog', '{"allocMb":200}', { qos: 1 });
    const ids = Array.from({ length: 200 }, (_, i) => `after-${i}`);
    const sending = publishMany(
      publisher,
      ids.length,
      (i) => ({ topic: `pa/${ids[i] as string}`, payload: '{"delayMs":5}' }),
      10,
    );
    await app.waitForLog((l) => String(l['msg']).includes('over ROUTEMQ_MAX_MEMORY_MB=160'), 15_000);
    await app.waitForLog((l) => l['msg'] === 'worker replaced after exceeding its memory limit', 20_000);
    await sending;
    await waitUntil(
      () => check(['hog', ...ids], readSeen(seenFile)).lost.length === 0,
      15_000,
      'every message handled',
    );
    const after = (await status(base)).workers.find((w) => w.workerId === 'pa-any-0');
    expect(after?.pid).not.toBe(before);
    expect(after?.memoryMb).toBeLessThan(160);
    await app.stop();
  });
});
