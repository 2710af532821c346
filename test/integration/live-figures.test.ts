import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import parsePrometheus from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { sendControlRequest } from '../../src/control/control-client.js';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { HealthHttpServer } from '../../src/health/http-server.js';
import { silentLogger } from '../../src/logger.js';
import { AppEvents } from '../../src/runtime/app-events.js';
import type { AppStatus } from '../../src/runtime/app.js';
import { CLEAR_SCREEN } from '../../src/cli/status-watch.js';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import type { MqttClient } from 'mqtt';
import { waitUntil } from '../helpers/mqtt.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/ops/routers', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${ROOT}bin/routemq.js`;
const SHARED = 'ops/shared/{id}';
const MAIN = 'ops/main/{id}';
const run = promisify(execFile);

/**
 * Publish at `ratePerSec` on average whatever the machine's load: every 50 ms, as many QoS 1 messages as the
 * elapsed time calls for (a late tick catches up), without waiting for their acks.
 */
function pacedPublisher(
  client: MqttClient,
  topic: (id: string) => string,
  ratePerSec: number,
): { sent: () => number; stop: () => void } {
  const started = Date.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * ratePerSec) / 1000);
    for (; sent < due; sent++) client.publishAsync(topic(String(sent)), '{}', { qos: 1 }).catch(() => undefined);
  }, 50);
  return { sent: () => sent, stop: () => clearInterval(timer) };
}

describe('live figures, metrics, the Grafana dashboard and status --watch', () => {
  const f = useFixture({
    routers: ROUTERS,
    env: { HEALTH_HTTP_ENABLED: 'true', METRICS_HTTP_ENABLED: 'true', OPS_POOL_COUNT: '2' },
  });
  let app: SpawnedApp;
  let base: string;
  let socket: string;
  let env: Record<string, string>;
  const status = async (): Promise<HealthSnapshot> =>
    (await sendControlRequest(socket, { cmd: 'status' })) as HealthSnapshot;
  const scrape = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();

  beforeAll(async () => {
    const port = await freePort();
    socket = f.path('control', '.sock');
    env = f.env({ HEALTH_HTTP_PORT: String(port), ROUTEMQ_CONTROL_SOCKET: socket });
    base = `http://127.0.0.1:${port}`;
    app = await f.serve(env);
  });

  it('keeps msg/s per worker, pool, route and main stable while status is polled every 100 ms', async () => {
    const publisher = await f.connect();
    const shared = pacedPublisher(publisher, (id) => `ops/shared/${id}`, 40);
    const main = pacedPublisher(publisher, (id) => `ops/main/${id}`, 10);
    f.defer(() => {
      shared.stop();
      main.stop();
    });
    // Let the 10 s rate window fill with steady traffic.
    const loadStarted = Date.now();
    await waitUntil(() => Date.now() - loadStarted > 13_000, 20_000, 'the rate window to fill');

    const readings: HealthSnapshot[] = [];
    const sentAtStart = shared.sent();
    const pollStarted = Date.now();
    while (Date.now() - pollStarted < 6000) {
      readings.push(await status());
      await new Promise((r) => setTimeout(r, 100));
    }
    const sentRate = ((shared.sent() - sentAtStart) * 1000) / (Date.now() - pollStarted);
    expect(readings.length).toBeGreaterThan(20);

    const poolRates: number[] = [];
    for (const s of readings) {
      const pool = s.pools.find((p) => p.routes.includes(SHARED));
      expect(pool?.recent).toMatchObject({ rateWindowS: 10, latencyWindowS: 60 });
      const workers = s.workers.filter((w) => w.pool === pool?.name && w.status === 'ready');
      expect(workers).toHaveLength(2);
      // Two workers share the group: each busy worker shows its own non-zero rate, and the pool is their sum.
      for (const w of workers) expect(w.recent.messagesPerSecond).toBeGreaterThan(2);
      const sum = workers.reduce((n, w) => n + w.recent.messagesPerSecond, 0);
      expect(Math.abs((pool?.recent.messagesPerSecond ?? 0) - sum)).toBeLessThan(0.1);
      const route = s.routes.find((r) => r.route === SHARED);
      expect(Math.abs((route?.recent.messagesPerSecond ?? 0) - sum)).toBeLessThan(0.1);
      poolRates.push(pool?.recent.messagesPerSecond ?? 0);
      // The main process runs the non-shared route, with the same figures.
      expect(s.main.routes).toEqual([MAIN]);
      expect(s.main.recent.messagesPerSecond).toBeGreaterThan(3);
      expect(s.routes.find((r) => r.route === MAIN)?.recent.messagesPerSecond).toBe(s.main.recent.messagesPerSecond);
      expect(s.main.recent.p95Ms).toBeDefined();
      expect(route?.recent.p95Ms).toBeGreaterThanOrEqual(0);
    }
    const sorted = [...poolRates].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    // Stable: a 10 s window sliding by about a second moves little between reads, whoever reads and how often.
    expect(sorted[0]).toBeGreaterThan(median * 0.75);
    expect(sorted.at(-1)).toBeLessThan(median * 1.25);
    // Right: close to what was published meanwhile (the publisher runs on the same loaded machine).
    expect(median).toBeGreaterThan(sentRate * 0.6);
    expect(median).toBeLessThan(sentRate * 1.4);

    // The table labels each figure with its window and shows the main process as pool and worker "main".
    const { stdout } = await run(process.execPath, [BIN, 'status', '--socket', socket], {
      env: { ...process.env, ...env },
    });
    expect(stdout).toContain('MSG/S (10S)');
    expect(stdout).toContain('P50/P95/P99 MS (60S)');
    expect(stdout).toMatch(/^main\s+1\/1/m);
    expect(stdout).toContain(SHARED);
    // Control requests are logged at debug: sixty polls left no line at info.
    expect(app.logs().filter((l) => l['msg'] === 'control request')).toEqual([]);
  });

  it('exposes lint-clean metrics: a restarts counter, exact bytes, per-process lag and GC, backlog per route', async () => {
    const before = await status();
    const poolName = before.pools.find((p) => p.routes.includes(SHARED))?.name as string;
    const victim = before.workers.find((w) => w.pool === poolName && w.slot === 0);
    process.kill(victim?.pid as number, 'SIGKILL');
    const family = async (name: string): Promise<ReturnType<typeof parsePrometheus>[number] | undefined> =>
      parsePrometheus(await scrape()).find((m) => m.name === name);
    await waitUntil(
      async () => (await family('routemq_worker_restarts_total'))?.metrics.some((m) => m.value === '1') ?? false,
      20_000,
      'routemq_worker_restarts_total to count the kill',
    );
    expect((await family('routemq_worker_restarts_total'))?.type).toBe('COUNTER');
    // Ready again, and the new worker has sent its first stats (with its event-loop lag and GC).
    await waitUntil(
      async () => {
        // Both slots listed (a slot waiting out its restart backoff is not), each ready and reporting.
        const workers = (await status()).workers;
        return workers.length === 2 && workers.every((w) => w.status === 'ready' && w.runtime !== undefined);
      },
      20_000,
      'every worker ready and reporting again',
    );

    // Two slow messages: each route shows a backlog of 1 and an oldest unacked message that ages.
    const publisher = await f.connect();
    await publisher.publishAsync('ops/shared/slow', '{"delayMs":5000}', { qos: 1 });
    await publisher.publishAsync('ops/main/slow', '{"delayMs":5000}', { qos: 1 });
    // Garbage in both workers' way: young-generation collections follow.
    for (let i = 0; i < 4; i++) await publisher.publishAsync(`ops/shared/gc${i}`, '{"garbage":3}', { qos: 1 });
    await waitUntil(
      async () => {
        const runs = (await family('routemq_worker_gc_runs_total'))?.metrics ?? [];
        const ages = (await family('routemq_route_oldest_unacked_age_seconds'))?.metrics ?? [];
        return (
          runs.some((m) => m.labels?.['pool'] === poolName) &&
          [SHARED, MAIN].every((route) => ages.some((m) => m.labels?.['route'] === route && Number(m.value) >= 1))
        );
      },
      20_000,
      'a worker GC, and the oldest unacked age of both routes past 1 s',
    );
    const text = await scrape();
    const scaling = (await (await fetch(`${base}/scaling`)).json()) as {
      pools: Record<string, { backlogMessages: number; oldestUnackedAgeSeconds: number }>;
      routes: Record<string, { backlogMessages: number; oldestUnackedAgeSeconds: number }>;
    };
    expect(scaling.pools[poolName]?.backlogMessages).toBeGreaterThanOrEqual(1);
    expect(scaling.pools[poolName]?.oldestUnackedAgeSeconds).toBeGreaterThanOrEqual(1);
    expect(scaling.routes[MAIN]?.oldestUnackedAgeSeconds).toBeGreaterThanOrEqual(1);

    // promtool (Debian's prometheus package) lints the real scrape: names, types, units, _total counters.
    const file = f.path('scrape', '.prom');
    writeFileSync(file, text);
    const lint = await run('sh', ['-c', `promtool check metrics < "${file}"`]).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
    );
    expect(lint).toEqual({ code: 0, out: '' });

    const families = parsePrometheus(text);
    const series = (name: string): { labels?: Record<string, string>; value?: string }[] =>
      families.find((m) => m.name === name)?.metrics ?? [];
    const processes = [['main', '0'], ...(await status()).workers.map((w) => [w.pool, String(w.slot)])];
    for (const name of [
      'routemq_worker_memory_bytes',
      'routemq_worker_event_loop_lag_seconds',
      'routemq_worker_event_loop_lag_p99_seconds',
      'routemq_messages_in_flight',
    ]) {
      const labelled = series(name).map((m) => [m.labels?.['pool'], m.labels?.['slot']]);
      const why = `${name} in ${JSON.stringify((await status()).workers.map((w) => [w.workerId, w.pid, w.restarts, w.uptimeMs, w.runtime !== undefined]))}`;
      for (const p of processes) expect(labelled, why).toContainEqual(p);
    }
    for (const m of series('routemq_worker_memory_bytes')) {
      expect(Number.isInteger(Number(m.value))).toBe(true);
      expect(Number(m.value)).toBeGreaterThan(1_000_000);
    }
    expect(families.find((m) => m.name === 'routemq_worker_gc_runs_total')?.type).toBe('COUNTER');
    expect(series('routemq_worker_gc_runs_total').some((m) => m.labels?.['pool'] === poolName)).toBe(true);
    expect(series('routemq_route_backlog_messages').find((m) => m.labels?.['route'] === SHARED)?.value).toBe('1');

    // Every metric the docs and the Grafana dashboard name is one that /metrics exposes.
    const exposed = new Set(families.map((m) => m.name));
    const known = (name: string): boolean => exposed.has(name) || exposed.has(name.replace(/_(bucket|sum|count)$/, ''));
    const docs = ['README.md', ...readdirSync(`${ROOT}docs`).map((d) => `docs/${d}`)].filter((p) => p.endsWith('.md'));
    const named = docs.flatMap((p) => [...readFileSync(`${ROOT}${p}`, 'utf8').matchAll(/\broutemq_[a-z0-9_]+/g)]);
    const docNames = new Set(named.map((m) => m[0]));
    expect([...docNames].filter((n) => !known(n))).toEqual([]);
    const reference = readFileSync(`${ROOT}docs/observability.md`, 'utf8');
    expect([...exposed].filter((n) => n.startsWith('routemq_') && !reference.includes(`\`${n}\``))).toEqual([]);

    const dashboard = JSON.parse(readFileSync(`${ROOT}deploy/grafana/routemq.json`, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(15);
    for (const { panel, expr } of exprs) {
      const metrics = [...expr.matchAll(/\b(?:routemq|nodejs|process)_[a-z0-9_]+/g)].map((m) => m[0]);
      expect(metrics.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of metrics) expect(known(name), `${panel} names ${name}`).toBe(true);
    }
  });

  it('redraws status in place every second with --watch and exits 0 on Ctrl-C', async () => {
    const watch = f.spawn(['status', '--watch', '--socket', socket], env);
    const frames = (): number => watch.lines.join('\n').split(CLEAR_SCREEN).length - 1;
    await waitUntil(() => frames() >= 2, 15_000, 'two frames');
    const output = watch.lines.join('\n');
    expect(output).toContain('MSG/S (10S)');
    expect(output).toContain('Ctrl-C to exit');
    watch.child.kill('SIGINT');
    expect(await watch.exited).toEqual({ code: 0, signal: null });
    expect(watch.lines.join('\n')).not.toMatch(/Error|\bat .*\.js:\d+/);
  });

  it('answers /metrics with what to set when only the health server is enabled', async () => {
    const monitor = new HealthMonitor({
      status: (): AppStatus => ({
        ready: true,
        problems: [],
        state: 'running',
        pid: process.pid,
        mqttConnected: true,
        main: undefined,
        workers: undefined,
        deadLetters: undefined,
      }),
      intervalMs: 60_000,
      logger: silentLogger(),
    });
    const server = new HealthHttpServer({
      host: '127.0.0.1',
      port: 0,
      healthEnabled: true,
      metricsEnabled: false,
      metricsPath: '/metrics',
      token: undefined,
      monitor,
      registry: new Registry(),
      events: new AppEvents(),
      stopping: () => false,
      logger: silentLogger(),
    });
    await server.start();
    f.defer(() => server.stop());
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ hint: expect.stringContaining('METRICS_HTTP_ENABLED=true') });
  });
});
