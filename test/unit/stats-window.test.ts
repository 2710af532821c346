import { describe, expect, it } from 'vitest';
import { DurationHistogram } from '../../src/message/duration-histogram.js';
import type { MessageStatsSnapshot } from '../../src/message/stats.js';
import {
  LATENCY_WINDOW_MS,
  MAX_WINDOW_SAMPLES,
  RATE_WINDOW_MS,
  StatsWindow,
  liveFigures,
} from '../../src/message/stats-window.js';

/** A process that handled `handled` messages of route `r`, with the given handler durations (seconds). */
function snapshot(handled: number, histogram: DurationHistogram, failed = 0): MessageStatsSnapshot {
  const counters = { received: handled, handled, failed, retried: 0, deadLettered: 0 };
  return {
    total: counters,
    routes: { r: counters },
    noRoute: 0,
    skipped: 0,
    inFlight: 0,
    queued: 0,
    durations: { r: histogram.data() },
  };
}

/** Feed one sample a second for `seconds`, at `perSecond` messages of `durationS` each, from `t0`. */
function feed(
  window: StatsWindow,
  h: DurationHistogram,
  state: { handled: number; t: number },
  seconds: number,
  perSecond: number,
  durationS: number,
): void {
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < perSecond; i++) h.observe(durationS);
    state.handled += perSecond;
    state.t += 1000;
    window.record(state.t, snapshot(state.handled, h));
  }
}

describe('StatsWindow', () => {
  it('gives the same figures however often it is read', () => {
    const window = new StatsWindow();
    const h = new DurationHistogram();
    const state = { handled: 0, t: 0 };
    window.record(0, snapshot(0, h));
    feed(window, h, state, 30, 20, 0.001);
    const first = liveFigures([window.delta()]);
    for (let i = 0; i < 1000; i++) expect(liveFigures([window.delta()])).toEqual(first);
    expect(first).toMatchObject({ rateWindowS: 10, latencyWindowS: 60, messagesPerSecond: 20, failedPerSecond: 0 });
  });

  it('rates over the last 10 s and percentiles over the last 60 s only', () => {
    const window = new StatsWindow();
    const h = new DurationHistogram();
    const state = { handled: 0, t: 0 };
    window.record(0, snapshot(0, h));
    // A slow start (2 s handlers) that a lifetime estimate would never forget…
    feed(window, h, state, 20, 5, 2);
    // …then 90 s of fast (1 ms) handlers at 50/s.
    feed(window, h, state, 90, 50, 0.001);
    const f = liveFigures([window.delta()]);
    expect(f.messagesPerSecond).toBe(50);
    expect(f.p99Ms).toBeLessThanOrEqual(1);
    expect(f.p50Ms).toBeGreaterThan(0.5);
    // Samples older than the latency window (plus one) are gone.
    expect(window.size).toBeLessThanOrEqual(LATENCY_WINDOW_MS / 1000 + 2);
  });

  it('measures the covered span when samples are irregular', () => {
    const window = new StatsWindow();
    const h = new DurationHistogram();
    window.record(0, snapshot(0, h));
    window.record(4000, snapshot(40, h));
    // Not a full window yet: 40 messages over the 4 s covered.
    expect(liveFigures([window.delta()]).messagesPerSecond).toBe(10);
    window.record(RATE_WINDOW_MS + 4000, snapshot(40 + 30 * 14, h));
    // Base is the newest sample at least 10 s older than the newest: t=4000.
    expect(liveFigures([window.delta()]).messagesPerSecond).toBe(42);
  });

  it('ignores stale or repeated samples, and restarts when the counters go backwards (a new process)', () => {
    const window = new StatsWindow();
    const h = new DurationHistogram();
    window.record(1000, snapshot(10, h));
    window.record(2000, snapshot(20, h));
    window.record(2000, snapshot(999, h));
    window.record(1500, snapshot(999, h));
    expect(liveFigures([window.delta()]).messagesPerSecond).toBe(10);
    window.record(3000, snapshot(1, new DurationHistogram()));
    expect(window.size).toBe(1);
    expect(liveFigures([window.delta()]).messagesPerSecond).toBe(0);
  });

  it('keeps at most MAX_WINDOW_SAMPLES samples', () => {
    const window = new StatsWindow();
    const h = new DurationHistogram();
    for (let i = 0; i < MAX_WINDOW_SAMPLES * 3; i++) window.record(i, snapshot(i, h));
    expect(window.size).toBeLessThanOrEqual(MAX_WINDOW_SAMPLES);
  });

  it('adds rates and merges histograms over processes, and filters by route', () => {
    const a = new StatsWindow();
    const b = new StatsWindow();
    const ha = new DurationHistogram();
    const hb = new DurationHistogram();
    const sa = { handled: 0, t: 0 };
    const sb = { handled: 0, t: 0 };
    a.record(0, snapshot(0, ha));
    b.record(0, snapshot(0, hb));
    feed(a, ha, sa, 15, 10, 0.001);
    feed(b, hb, sb, 15, 30, 0.2);
    const both = liveFigures([a.delta(), b.delta()]);
    expect(both.messagesPerSecond).toBe(40);
    // 75% of the tries took 0.2 s: p95 falls in the (0.1, 0.25] bucket.
    expect(both.p95Ms).toBeGreaterThan(100);
    expect(both.p50Ms).toBeGreaterThan(100);
    expect(liveFigures([a.delta(), b.delta()], new Set(['other'])).messagesPerSecond).toBe(0);
    expect(liveFigures([]).p95Ms).toBeUndefined();
  });
});
