import { mergeHistograms } from '../message/duration-histogram.js';
import type { HistogramData } from '../message/duration-histogram.js';
import type { MessageCounters, MessageStatsSnapshot } from '../message/stats.js';

const KEYS: readonly (keyof MessageCounters)[] = ['received', 'handled', 'failed', 'retried', 'deadLettered'];

/** Per-route totals over every process that ever ran, by route pattern. */
export interface AggregatedStats {
  readonly routes: ReadonlyMap<string, MessageCounters>;
  readonly durations: ReadonlyMap<string, HistogramData>;
  readonly noRoute: number;
}

/**
 * Sums message counters over the main process and every worker, keeping what exited workers had counted, so a
 * counter never goes backwards when a worker restarts (Prometheus counters may reset, but sums across a pool
 * should not jump).
 */
export class MetricsAggregator {
  readonly #retired: MessageStatsSnapshot[] = [];
  readonly #retiredPids = new Set<number>();

  /** A worker exited: keep its last counters. */
  retire(pid: number | undefined, stats: MessageStatsSnapshot | undefined): void {
    if (pid === undefined || !stats || this.#retiredPids.has(pid)) return;
    this.#retiredPids.add(pid);
    this.#retired.push(stats);
  }

  /** Totals of the live processes' latest counters plus the retired ones. */
  aggregate(live: readonly { pid: number | undefined; stats: MessageStatsSnapshot | undefined }[]): AggregatedStats {
    const parts = [
      ...this.#retired,
      ...live.flatMap((p) => (p.stats && !(p.pid !== undefined && this.#retiredPids.has(p.pid)) ? [p.stats] : [])),
    ];
    const routes = new Map<string, MessageCounters>();
    const histograms = new Map<string, HistogramData[]>();
    let noRoute = 0;
    for (const part of parts) {
      noRoute += part.noRoute;
      for (const [route, counters] of Object.entries(part.routes)) {
        const sum = routes.get(route) ?? { received: 0, handled: 0, failed: 0, retried: 0, deadLettered: 0 };
        for (const key of KEYS) sum[key] += counters[key];
        routes.set(route, sum);
      }
      for (const [route, histogram] of Object.entries(part.durations)) {
        histograms.set(route, [...(histograms.get(route) ?? []), histogram]);
      }
    }
    const durations = new Map([...histograms].map(([route, list]) => [route, mergeHistograms(list)]));
    return { routes, durations, noRoute };
  }
}
