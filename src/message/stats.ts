import { DurationHistogram } from './duration-histogram.js';
import type { HistogramData } from './duration-histogram.js';

/** Counters of one route (or of the whole process). */
export interface MessageCounters {
  /** Messages that reached a handler's route (decoded or not). */
  received: number;
  /** Messages whose handler settled without error. */
  handled: number;
  /** Failed tries (a message retried twice and dead-lettered counts 3). */
  failed: number;
  /** Retries scheduled. */
  retried: number;
  /** Messages published to the dead-letter topic. */
  deadLettered: number;
}

/** A snapshot of a process's message counters. */
export interface MessageStatsSnapshot {
  readonly total: Readonly<MessageCounters>;
  /** Keyed by route pattern (never by concrete topic: label cardinality). */
  readonly routes: Readonly<Record<string, Readonly<MessageCounters>>>;
  /** Topics that matched no route. */
  readonly noRoute: number;
  /** Copies acked without running, because another route or process is the one that runs them. */
  readonly skipped: number;
  readonly inFlight: number;
  readonly queued: number;
  /** Handler durations per route pattern (every try). */
  readonly durations: Readonly<Record<string, HistogramData>>;
}

function zero(): MessageCounters {
  return { received: 0, handled: 0, failed: 0, retried: 0, deadLettered: 0 };
}

/** Counts what the dispatcher does, per route pattern and in total. */
export class MessageStats {
  readonly total: MessageCounters = zero();
  readonly #routes = new Map<string, MessageCounters>();
  readonly #durations = new Map<string, DurationHistogram>();
  noRoute = 0;
  skipped = 0;

  /** The counters of one route pattern, created on first use. */
  route(pattern: string): MessageCounters {
    let counters = this.#routes.get(pattern);
    if (!counters) {
      counters = zero();
      this.#routes.set(pattern, counters);
    }
    return counters;
  }

  /** Add `n` to one counter of a route and of the total. */
  add(pattern: string, key: keyof MessageCounters, n = 1): void {
    this.route(pattern)[key] += n;
    this.total[key] += n;
  }

  /** Record how long one try of a route's handler took. */
  observe(pattern: string, seconds: number): void {
    let histogram = this.#durations.get(pattern);
    if (!histogram) {
      histogram = new DurationHistogram();
      this.#durations.set(pattern, histogram);
    }
    histogram.observe(seconds);
  }

  snapshot(inFlight: number, queued: number): MessageStatsSnapshot {
    const routes: Record<string, MessageCounters> = {};
    for (const [pattern, counters] of this.#routes) routes[pattern] = { ...counters };
    const durations: Record<string, HistogramData> = {};
    for (const [pattern, histogram] of this.#durations) durations[pattern] = histogram.data();
    return {
      total: { ...this.total },
      routes,
      noRoute: this.noRoute,
      skipped: this.skipped,
      inFlight,
      queued,
      durations,
    };
  }
}
