import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram, PerformanceEntry } from 'node:perf_hooks';

/** What one process's runtime did: event-loop lag since the previous sample, and GC since start. */
export interface RuntimeSample {
  /** Mean event-loop delay over the interval since the previous sample, in seconds. */
  readonly eventLoopLagSeconds: number;
  /** 99th percentile of the event-loop delay over that interval, in seconds. */
  readonly eventLoopLagP99Seconds: number;
  /** Time spent in GC since the meter started, in seconds, per GC kind (`minor`, `major`, `incremental`, `weakcb`). */
  readonly gcSecondsTotal: Readonly<Record<string, number>>;
  /** GC runs since the meter started, per GC kind. */
  readonly gcRunsTotal: Readonly<Record<string, number>>;
}

// perf_hooks `constants.NODE_PERFORMANCE_GC_*`, named as prom-client's `nodejs_gc_duration_seconds` names them.
const GC_KINDS: Readonly<Record<number, string>> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

/**
 * Event-loop lag (`monitorEventLoopDelay`, 20 ms resolution) and GC time (a `gc` PerformanceObserver) of the
 * process it runs in: a worker reports it with its stats, the main process samples it for itself. State: one
 * histogram, reset at each sample, and one counter per GC kind (four at most).
 */
export class RuntimeMeter {
  readonly #delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  readonly #gcSeconds: Record<string, number> = {};
  readonly #gcRuns: Record<string, number> = {};
  readonly #observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind =
        GC_KINDS[(entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'unknown';
      this.#gcSeconds[kind] = (this.#gcSeconds[kind] ?? 0) + entry.duration / 1000;
      this.#gcRuns[kind] = (this.#gcRuns[kind] ?? 0) + 1;
    }
  });
  #started = false;

  /** Start measuring. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#delay.enable();
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Lag since the previous sample (or the start), GC since the start. */
  sample(): RuntimeSample {
    const s = {
      // The histogram's mean is NaN before the first delay is recorded.
      eventLoopLagSeconds: Number.isFinite(this.#delay.mean) ? this.#delay.mean / 1e9 : 0,
      eventLoopLagP99Seconds: this.#delay.count > 0 ? this.#delay.percentile(99) / 1e9 : 0,
      gcSecondsTotal: { ...this.#gcSeconds },
      gcRunsTotal: { ...this.#gcRuns },
    };
    this.#delay.reset();
    return s;
  }

  /** Stop measuring. Memoised. */
  stop(): void {
    if (!this.#started) return;
    this.#started = false;
    this.#delay.disable();
    this.#observer.disconnect();
  }
}
