import { histogramQuantile, mergeHistograms } from './duration-histogram.js';
import type { HistogramData } from './duration-histogram.js';
import type { MessageStatsSnapshot } from './stats.js';

/** Rates (messages/s) are averaged over this window: 10 s, sliding with each sample (about one per second). */
export const RATE_WINDOW_MS = 10_000;
/** Handler percentiles (p50, p95, p99) cover this window: the last 60 s, sliding with each sample. */
export const LATENCY_WINDOW_MS = 60_000;
/** At most this many samples per process are kept (about 4 min at one sample a second): the window's memory bound. */
export const MAX_WINDOW_SAMPLES = 256;

/** What one process did over the last windows: the differences of its monotonic counters, not rates yet. */
export interface WindowDelta {
  /** Length of the rate window actually covered, in seconds (0 until there are two samples). */
  readonly rateSeconds: number;
  /** Messages finished (handled or dead-lettered) within the rate window, per route pattern. */
  readonly finished: ReadonlyMap<string, number>;
  /** Failed tries within the rate window, per route pattern. */
  readonly failed: ReadonlyMap<string, number>;
  /** Handler durations of the tries that settled within the latency window, per route pattern. */
  readonly durations: ReadonlyMap<string, HistogramData>;
}

/** Live figures, each labelled with its window. */
export interface LiveFigures {
  /** The window of `messagesPerSecond` and `failedPerSecond`, in seconds ({@link RATE_WINDOW_MS}). */
  readonly rateWindowS: number;
  /** The window of the percentiles, in seconds ({@link LATENCY_WINDOW_MS}). */
  readonly latencyWindowS: number;
  /** Messages finished (handled or dead-lettered) per second over the rate window. */
  readonly messagesPerSecond: number;
  /** Failed handler tries per second over the rate window. */
  readonly failedPerSecond: number;
  /**
   * Handler duration percentiles over the latency window, in ms; `undefined` when nothing settled in it. Estimated
   * by interpolation inside the fixed duration buckets (`DURATION_BUCKETS_S`), as Prometheus's
   * `histogram_quantile` does: the error is at most the width of the bucket the percentile falls in.
   */
  readonly p50Ms: number | undefined;
  readonly p95Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

interface Sample {
  readonly at: number;
  readonly stats: MessageStatsSnapshot;
}

/**
 * A ring of one process's stats snapshots (cumulative, monotonic counters and histograms), fed as they arrive
 * (a worker's stats message, about once a second, or the main process's own timer), never by whoever reads.
 * Any number of readers, reading as often as they like, get the same figures: differences between the newest
 * sample and the newest one at least a window older.
 *
 * Limits: at most {@link MAX_WINDOW_SAMPLES} samples; samples older than the latency window (plus one) are dropped.
 * Failure mode: when the counters go backwards (a new process behind the same handle), the ring restarts, so the
 * figures cover less than a window until it fills again; a process that stops reporting keeps its last figures.
 */
export class StatsWindow {
  readonly #samples: Sample[] = [];

  /** Add a snapshot taken at `at` (ms). Ignored unless newer than the newest sample. */
  record(at: number, stats: MessageStatsSnapshot): void {
    const last = this.#samples.at(-1);
    if (last && at <= last.at) return;
    if (last && finishedOf(stats) < finishedOf(last.stats)) this.#samples.length = 0;
    this.#samples.push({ at, stats });
    // Keep one sample at or before the start of the longest window, so the window is always fully covered.
    while (this.#samples.length > 2 && (this.#samples[1] as Sample).at <= at - LATENCY_WINDOW_MS) this.#samples.shift();
    if (this.#samples.length > MAX_WINDOW_SAMPLES) this.#samples.shift();
  }

  /** Number of samples held. */
  get size(): number {
    return this.#samples.length;
  }

  /** The differences over the windows, from the newest sample back. */
  delta(): WindowDelta {
    const latest = this.#samples.at(-1);
    const rateBase = this.#base(RATE_WINDOW_MS);
    const latencyBase = this.#base(LATENCY_WINDOW_MS);
    if (!latest || !rateBase || !latencyBase || rateBase === latest) {
      return { rateSeconds: 0, finished: new Map(), failed: new Map(), durations: new Map() };
    }
    const finished = new Map<string, number>();
    const failed = new Map<string, number>();
    for (const [route, now] of Object.entries(latest.stats.routes)) {
      const before = rateBase.stats.routes[route];
      finished.set(route, now.handled + now.deadLettered - (before ? before.handled + before.deadLettered : 0));
      failed.set(route, now.failed - (before?.failed ?? 0));
    }
    const durations = new Map<string, HistogramData>();
    for (const [route, now] of Object.entries(latest.stats.durations)) {
      durations.set(route, subtract(now, latencyBase.stats.durations[route]));
    }
    return { rateSeconds: (latest.at - rateBase.at) / 1000, finished, failed, durations };
  }

  /** The newest sample at least `windowMs` older than the newest one, else the oldest. */
  #base(windowMs: number): Sample | undefined {
    const latest = this.#samples.at(-1);
    if (!latest) return undefined;
    let base = this.#samples[0];
    for (const s of this.#samples) {
      if (s.at <= latest.at - windowMs) base = s;
      else break;
    }
    return base;
  }
}

/**
 * Figures of several processes together (a pool: its workers; a route: every process serving it), optionally of
 * some routes only. Rates add up (each process over its own window); percentiles come from the merged histograms.
 */
export function liveFigures(deltas: readonly WindowDelta[], routes?: ReadonlySet<string>): LiveFigures {
  let messagesPerSecond = 0;
  let failedPerSecond = 0;
  const histograms: HistogramData[] = [];
  for (const d of deltas) {
    if (d.rateSeconds > 0) {
      for (const [route, n] of d.finished) if (!routes || routes.has(route)) messagesPerSecond += n / d.rateSeconds;
      for (const [route, n] of d.failed) if (!routes || routes.has(route)) failedPerSecond += n / d.rateSeconds;
    }
    for (const [route, h] of d.durations) if (!routes || routes.has(route)) histograms.push(h);
  }
  const merged = mergeHistograms(histograms);
  const ms = (q: number): number | undefined => {
    const s = histogramQuantile(merged, q);
    return s === undefined ? undefined : round2(s * 1000);
  };
  return {
    rateWindowS: RATE_WINDOW_MS / 1000,
    latencyWindowS: LATENCY_WINDOW_MS / 1000,
    messagesPerSecond: round2(messagesPerSecond),
    failedPerSecond: round2(failedPerSecond),
    p50Ms: ms(0.5),
    p95Ms: ms(0.95),
    p99Ms: ms(0.99),
  };
}

function finishedOf(stats: MessageStatsSnapshot): number {
  return stats.total.handled + stats.total.deadLettered + stats.total.failed;
}

function subtract(now: HistogramData, before: HistogramData | undefined): HistogramData {
  if (!before) return now;
  return {
    counts: now.counts.map((n, i) => n - (before.counts[i] ?? 0)),
    sum: now.sum - before.sum,
    count: now.count - before.count,
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
