import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DASHBOARD_LIMITS, DashboardHistory, routeFigures } from '../../src/health/dashboard-data.js';
import { dashboardPage, loadChartLibrary, renderDashboard } from '../../src/health/dashboard.js';
import type { HealthMonitor, HealthSnapshot, MonitoredWorker } from '../../src/health/health-monitor.js';
import type { Logger } from '../../src/logger.js';
import { DurationHistogram } from '../../src/message/duration-histogram.js';
import type { HistogramData } from '../../src/message/duration-histogram.js';
import type { MessageCounters, MessageStatsSnapshot } from '../../src/message/stats.js';
import type { LiveFigures } from '../../src/message/stats-window.js';
import type { AppEvent, AppEvents } from '../../src/runtime/app-events.js';
import type { PoolHealth } from '../../src/worker/worker-health.js';

const T0 = 1_700_000_000_000;

function counters(c: Partial<MessageCounters>): MessageCounters {
  return { received: 0, handled: 0, failed: 0, retried: 0, deadLettered: 0, ...c };
}

function stats(routes: Record<string, Partial<MessageCounters>>, durationS?: number): MessageStatsSnapshot {
  const durations: Record<string, HistogramData> = {};
  if (durationS !== undefined) {
    for (const route of Object.keys(routes)) {
      const h = new DurationHistogram();
      h.observe(durationS);
      durations[route] = h.data();
    }
  }
  const all = Object.values(routes).map(counters);
  const total = counters({});
  for (const c of all) for (const k of Object.keys(total) as (keyof MessageCounters)[]) total[k] += c[k];
  return {
    total,
    routes: Object.fromEntries(Object.entries(routes).map(([r, c]) => [r, counters(c)])),
    noRoute: 0,
    skipped: 0,
    inFlight: 0,
    queued: 0,
    durations,
  };
}

/** Live figures as the monitor reports them (10 s rate window, 60 s latency window). */
function live(messagesPerSecond = 0, p95Ms?: number): LiveFigures {
  return {
    rateWindowS: 10,
    latencyWindowS: 60,
    messagesPerSecond,
    failedPerSecond: 0,
    p50Ms: p95Ms,
    p95Ms,
    p99Ms: p95Ms,
  };
}

function main(stats: MessageStatsSnapshot | undefined, p95Ms?: number): HealthSnapshot['main'] {
  return {
    pid: 1,
    cpuPercent: 0,
    memoryMb: 1,
    memoryBytes: 1_048_576,
    uptimeMs: 0,
    stats,
    routes: [],
    recent: live(0, p95Ms),
    runtime: undefined,
  };
}

function pool(name: string, messagesPerSecond: number): PoolHealth {
  return {
    name,
    routes: [`${name}/{id}`],
    desired: 1,
    live: 1,
    ready: 1,
    degraded: false,
    restartsInWindow: 0,
    totalRestarts: 0,
    load: { workers: 1, messagesPerSecond, busyRatio: 0.5, p95Ms: 2, inFlight: 0 },
    recent: live(messagesPerSecond, 2),
  };
}

function snapshot(at: number, extra: Partial<HealthSnapshot> = {}): HealthSnapshot {
  return {
    at,
    ready: true,
    problems: [],
    state: 'running',
    mqttConnected: true,
    main: main(undefined),
    totalWorkers: 0,
    activeWorkers: 0,
    pools: [],
    workers: [],
    routes: [],
    ...extra,
  };
}

function history(): DashboardHistory {
  return new DashboardHistory({
    monitor: new EventEmitter() as unknown as HealthMonitor,
    events: new EventEmitter() as unknown as AppEvents,
    info: { instance: 'i', broker: 'mqtt://b:1883', group: 'g', version: '1.2.3' },
  });
}

const silent = { warn: () => undefined } as unknown as Logger;

describe('routeFigures', () => {
  it('sums a route over its workers, lists the main connection as pool main, and gives the error rate and p95', () => {
    const worker = (): MonitoredWorker =>
      ({
        pool: 'work',
        stats: stats({ 'work/{id}': { received: 5, handled: 4, failed: 1 } }, 0.004),
      }) as unknown as MonitoredWorker;
    const figures = routeFigures(
      snapshot(T0, {
        main: main(stats({ 'orders/{id}': { received: 2 } })),
        workers: [worker(), worker()],
        // The p95 is the monitor's, over the last 60 s.
        routes: [{ route: 'work/{id}', recent: live(1, 4.2), backlogMessages: 0, oldestUnackedAgeSeconds: 0 }],
      }),
    );
    expect(figures).toEqual([
      expect.objectContaining({ route: 'orders/{id}', pool: 'main', received: 2, errorRate: null, p95Ms: null }),
      expect.objectContaining({
        route: 'work/{id}',
        pool: 'work',
        received: 10,
        handled: 8,
        failed: 2,
        errorRate: 0.2,
      }),
    ]);
    expect(figures[1]?.p95Ms).toBe(4.2);
  });
});

describe('DashboardHistory', () => {
  it('keeps one chart point a second per pool, and drops points older than 15 minutes', () => {
    const h = history();
    h.record(snapshot(T0, { pools: [pool('a', 10)] }));
    h.record(snapshot(T0 + 250, { pools: [pool('a', 99)] })); // within the second: skipped
    h.record(snapshot(T0 + 1000, { pools: [pool('a', 12)] }));
    expect(h.data(undefined).series['a']).toEqual([
      [T0, 10, 2, 0.5],
      [T0 + 1000, 12, 2, 0.5],
    ]);
    h.record(snapshot(T0 + DASHBOARD_LIMITS.windowMs + 500, { pools: [pool('a', 7)] }));
    expect(h.data(undefined).series['a']?.map((p) => p[1])).toEqual([12, 7]);
  });

  it('holds at most pointsPerSeries points, maxSeries series and the newest events', () => {
    const h = history();
    const n = DASHBOARD_LIMITS.pointsPerSeries + 50;
    for (let i = 0; i < n; i++) h.record(snapshot(T0 + i * 1000, { pools: [pool('a', i)] }));
    const series = h.data(undefined).series['a'] ?? [];
    expect(series).toHaveLength(DASHBOARD_LIMITS.pointsPerSeries);
    expect(series.at(-1)?.[1]).toBe(n - 1);

    const many = Array.from({ length: DASHBOARD_LIMITS.maxSeries + 10 }, (_, i) => pool(`p${i}`, 1));
    const wide = history();
    wide.record(snapshot(T0, { pools: many }));
    expect(Object.keys(wide.data(undefined).series)).toHaveLength(DASHBOARD_LIMITS.maxSeries);

    for (let i = 0; i < DASHBOARD_LIMITS.events + 30; i++) {
      h.addEvent({ type: 'pool.scaled', at: i, data: { pool: 'a', from: 1, to: 2 } } as unknown as AppEvent);
    }
    const events = h.data(undefined).events;
    expect(events).toHaveLength(DASHBOARD_LIMITS.events);
    expect(events[0]?.at).toBe(30);
  });

  it('charts the main connection from its handled count, and tells who it is', () => {
    const h = history();
    const mainAt = (handled: number): HealthSnapshot['main'] =>
      main(stats({ 'orders/{id}': { received: handled, handled } }));
    h.record(snapshot(T0, { main: mainAt(0) }));
    h.record(snapshot(T0 + 2000, { main: mainAt(30) }));
    expect(h.data(undefined).series['main']?.map((p) => p[1])).toEqual([0, 15]);
    expect(h.data(undefined).info).toMatchObject({
      instance: 'i',
      broker: 'mqtt://b:1883',
      group: 'g',
      version: '1.2.3',
    });
  });
});

describe('the dashboard page', () => {
  it('inlines uPlot from its package, with no external script or stylesheet', () => {
    const page = renderDashboard(loadChartLibrary());
    expect(page).toContain('uPlot');
    // Nothing fetched from elsewhere: no script src, no stylesheet link, no CSS import or remote url().
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|url\(\s*['"]?https?:|fetch\(['"]https?:/);
  });

  it('is served without charts when uPlot cannot be read, and logs why once', () => {
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => void warnings.push(msg) } as unknown as Logger;
    const page = dashboardPage(logger, () => {
      throw new Error('ENOENT: uplot');
    });
    expect(page).not.toContain('uPlot.min');
    expect(page).toContain("typeof uPlot === 'undefined'");
    expect(warnings).toEqual(['the dashboard serves no charts: the uplot package could not be read']);
    expect(dashboardPage(silent)).toBe(page); // cached for the process's life
  });

  it('refuses a library that would close its script tag', () => {
    const page = renderDashboard({ script: 'x = "</script><script>alert(1)";', css: '' });
    expect(page).not.toContain('alert(1)');
  });
});
