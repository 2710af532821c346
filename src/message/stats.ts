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
  /**
   * Messages received and not yet acked (running, waiting for a slot, or between retries), per route pattern. What
   * the broker still holds for the session is not visible to a client over MQTT, so this is this process's backlog
   * only. Absent when the snapshot was not taken by a dispatcher.
   */
  readonly backlog?: Readonly<Record<string, RouteBacklog>>;
}

/** One route's messages in hand in one process. */
export interface RouteBacklog {
  /** Messages received and not yet acked. */
  readonly messages: number;
  /** `Date.now()` when the oldest of them was received (or, if it never waited for a slot, started). */
  readonly oldestReceivedAt: number;
}

function zero(): MessageCounters {
  return { received: 0, handled: 0, failed: 0, retried: 0, deadLettered: 0 };
}

/**
 * The counters and the duration histogram of one route pattern, looked up once per message (see
 * {@link MessageStats.forRoute}) instead of once per counter.
 */
export class RouteStats {
  readonly counters: MessageCounters = zero();
  #histogram: DurationHistogram | undefined;
  readonly #total: MessageCounters;

  constructor(total: MessageCounters) {
    this.#total = total;
  }

  /** Add one to a counter of the route and of the total. */
  add(key: keyof MessageCounters): void {
    this.counters[key]++;
    this.#total[key]++;
  }

  /** `add('received')` for the hot path: a field increment, not a keyed property access. */
  countReceived(): void {
    this.counters.received++;
    this.#total.received++;
  }

  /** `add('handled')` for the hot path. */
  countHandled(): void {
    this.counters.handled++;
    this.#total.handled++;
  }

  /** Record how long one try of the route's handler took. */
  observe(seconds: number): void {
    (this.#histogram ??= new DurationHistogram()).observe(seconds);
  }

  /** The histogram, once anything was observed. */
  get histogram(): DurationHistogram | undefined {
    return this.#histogram;
  }
}

/** Counts what the dispatcher does, per route pattern and in total. */
export class MessageStats {
  readonly total: MessageCounters = zero();
  readonly #routes = new Map<string, RouteStats>();
  noRoute = 0;
  skipped = 0;

  /** The counters and histogram of one route pattern, created on first use. */
  forRoute(pattern: string): RouteStats {
    let stats = this.#routes.get(pattern);
    if (!stats) {
      stats = new RouteStats(this.total);
      this.#routes.set(pattern, stats);
    }
    return stats;
  }

  snapshot(inFlight: number, queued: number, backlog?: Readonly<Record<string, RouteBacklog>>): MessageStatsSnapshot {
    const routes: Record<string, MessageCounters> = {};
    const durations: Record<string, HistogramData> = {};
    for (const [pattern, stats] of this.#routes) {
      routes[pattern] = { ...stats.counters };
      if (stats.histogram) durations[pattern] = stats.histogram.data();
    }
    return {
      total: { ...this.total },
      routes,
      noRoute: this.noRoute,
      skipped: this.skipped,
      inFlight,
      queued,
      durations,
      ...(backlog ? { backlog } : {}),
    };
  }
}
