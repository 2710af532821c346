import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/status-view.js';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import { backlogOf, routeFiguresOf } from '../../src/health/route-figures.js';
import { DurationHistogram } from '../../src/message/duration-histogram.js';
import { StatsWindow, liveFigures } from '../../src/message/stats-window.js';
import type { MessageStatsSnapshot } from '../../src/message/stats.js';

function stats(route: string, handled: number, backlog?: { messages: number; oldestReceivedAt: number }) {
  const counters = { received: handled, handled, failed: 0, retried: 0, deadLettered: 0 };
  const h = new DurationHistogram();
  for (let i = 0; i < handled; i++) h.observe(0.002);
  return {
    total: counters,
    routes: { [route]: counters },
    noRoute: 0,
    skipped: 0,
    inFlight: 0,
    queued: 0,
    durations: { [route]: h.data() },
    ...(backlog ? { backlog: { [route]: backlog } } : {}),
  } satisfies MessageStatsSnapshot;
}

describe('route figures', () => {
  it('sums backlogs over processes, keeps the oldest, and lists known routes without traffic', () => {
    const a = new StatsWindow();
    a.record(0, stats('r/a', 0));
    a.record(10_000, stats('r/a', 100, { messages: 2, oldestReceivedAt: 7000 }));
    const b = new StatsWindow();
    b.record(0, stats('r/a', 0));
    b.record(10_000, stats('r/a', 50, { messages: 1, oldestReceivedAt: 4000 }));
    const figures = routeFiguresOf(
      [a.delta(), b.delta()],
      [
        stats('r/a', 100, { messages: 2, oldestReceivedAt: 7000 }),
        stats('r/a', 50, { messages: 1, oldestReceivedAt: 4000 }),
      ],
      10_000,
      ['r/idle'],
    );
    expect(
      figures.map((f) => [f.route, f.recent.messagesPerSecond, f.backlogMessages, f.oldestUnackedAgeSeconds]),
    ).toEqual([
      ['r/a', 15, 3, 6],
      ['r/idle', 0, 0, 0],
    ]);
    expect(backlogOf(figures, ['r/a', 'r/idle'])).toEqual({ backlogMessages: 3, oldestUnackedAgeSeconds: 6 });
    expect(backlogOf(figures, [])).toEqual({ backlogMessages: 0, oldestUnackedAgeSeconds: 0 });
  });
});

describe('formatStatus', () => {
  it('labels every live figure with its window and shows the main process as pool and worker main', () => {
    const recent = { ...liveFigures([]), messagesPerSecond: 12.5, p50Ms: 0.6, p95Ms: 0.9, p99Ms: 1 };
    const snapshot = {
      at: 0,
      ready: true,
      problems: [],
      state: 'running',
      mqttConnected: true,
      main: {
        pid: 1,
        cpuPercent: 1,
        memoryMb: 80,
        memoryBytes: 80 * 1024 * 1024,
        uptimeMs: 5000,
        stats: undefined,
        routes: ['devices/{id}'],
        recent,
        runtime: undefined,
      },
      totalWorkers: 0,
      activeWorkers: 0,
      pools: [],
      workers: [],
      routes: [{ route: 'devices/{id}', recent, backlogMessages: 2, oldestUnackedAgeSeconds: 1.25 }],
    } satisfies HealthSnapshot;
    const text = formatStatus(snapshot);
    expect(text).toContain('MSG/S (10S)');
    expect(text).toContain('P50/P95/P99 MS (60S)');
    expect(text).toContain('P95 MS (60S)');
    expect(text).toMatch(/^main\s+1\/1\s+-\s+12\.5\s+0\.6\/0\.9\/1\s+no\s+0\s+devices\/\{id\}$/m);
    expect(text).toMatch(/^devices\/\{id\}\s+12\.5\s+0\s+0\.6\/0\.9\/1\s+2\s+1\.3 s$/m);
  });
});
