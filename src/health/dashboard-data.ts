/**
 * @module
 * What the dashboard needs beyond `/status` and `/events`, served as `GET /dashboard/data`
 * (docs/dashboard.md): who this instance is, per-route figures summed over every process (the main process
 * included), the last 15 minutes of per-pool figures for the charts, and the latest lifecycle events so the page
 * opens with a history. Everything here is in memory and bounded (see {@link DASHBOARD_LIMITS}).
 */
import type { MessageCounters, MessageStatsSnapshot } from '../message/stats.js';
import type { AppEvent, AppEvents } from '../runtime/app-events.js';
import type { HealthMonitor, HealthSnapshot } from './health-monitor.js';

/** The bounds of the dashboard's in-memory history. */
export const DASHBOARD_LIMITS = Object.freeze({
  /** Chart points kept per pool: 15 minutes at one point per {@link pointIntervalMs}. */
  pointsPerSeries: 900,
  /** At most one chart point per series per this many ms (samples in between are skipped). */
  pointIntervalMs: 1000,
  /** Chart points older than this are dropped, in ms (15 min). */
  windowMs: 15 * 60 * 1000,
  /** Series kept at most (pools plus `main`); a series of a pool that went away ages out with its points. */
  maxSeries: 64,
  /** Lifecycle events kept for a page that opens (the newest; the page shows these and what arrives after). */
  events: 200,
});

/** Identity of the instance, for the dashboard's header. */
export interface DashboardInfo {
  readonly instance: string;
  /** The broker URL (never with credentials: they are separate settings). */
  readonly broker: string;
  readonly group: string;
  /** RouteMQ's version (its package.json). */
  readonly version: string;
  /** When the health service started, ms since the epoch. */
  readonly startedAt: number;
}

/** One route's figures, summed over the processes that serve it. */
export interface RouteFigures extends MessageCounters {
  readonly route: string;
  /** The pool that serves it, or `main` for a route of the main connection. */
  readonly pool: string;
  /** `failed / (handled + failed)`, 0..1; `null` before any try. */
  readonly errorRate: number | null;
  /** p95 of the handler duration over the last 60 s (the monitor's live figures), in ms; `null` when none settled. */
  readonly p95Ms: number | null;
}

/** One chart point: `[at (ms since epoch), msg/s, p95 ms or null, busy ratio 0..1 or null]`. */
export type ChartPoint = readonly [number, number, number | null, number | null];

/** The body of `GET /dashboard/data`. */
export interface DashboardData {
  readonly info: DashboardInfo;
  readonly routes: readonly RouteFigures[];
  /** Chart points per series (pool name, or `main`), oldest first. */
  readonly series: Readonly<Record<string, readonly ChartPoint[]>>;
  /** The newest lifecycle events, oldest first. */
  readonly events: readonly AppEvent[];
  readonly limits: typeof DASHBOARD_LIMITS;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Per-route figures of one snapshot: the main process's routes, then each worker's, summed per route. */
export function routeFigures(snapshot: HealthSnapshot): RouteFigures[] {
  const acc = new Map<string, { pool: string; counters: MessageCounters }>();
  const add = (pool: string, stats: MessageStatsSnapshot | undefined): void => {
    if (!stats) return;
    for (const [route, c] of Object.entries(stats.routes)) {
      let entry = acc.get(route);
      if (!entry) {
        entry = { pool, counters: { received: 0, handled: 0, failed: 0, retried: 0, deadLettered: 0 } };
        acc.set(route, entry);
      }
      for (const key of Object.keys(entry.counters) as (keyof MessageCounters)[]) entry.counters[key] += c[key];
    }
  };
  add('main', snapshot.main.stats);
  for (const w of snapshot.workers) add(w.pool, w.stats);
  const recent = new Map(snapshot.routes.map((r) => [r.route, r.recent.p95Ms]));
  return [...acc].map(([route, { pool, counters }]) => {
    const tries = counters.handled + counters.failed;
    const p95 = recent.get(route);
    return {
      route,
      pool,
      ...counters,
      errorRate: tries > 0 ? counters.failed / tries : null,
      p95Ms: p95 === undefined ? null : round1(p95),
    };
  });
}

/** Options of {@link DashboardHistory}. */
export interface DashboardHistoryOptions {
  readonly monitor: HealthMonitor;
  readonly events: AppEvents;
  readonly info: Omit<DashboardInfo, 'startedAt'>;
}

/**
 * Keeps the dashboard's history in the main process: a chart point per pool (and `main`) per health sample, at
 * most one a second, for 15 minutes; and the newest lifecycle events. Bounded by {@link DASHBOARD_LIMITS}: when
 * full, the oldest point or event goes. Lost on restart: the page then starts with empty charts and events.
 */
export class DashboardHistory {
  readonly #o: DashboardHistoryOptions;
  readonly #startedAt = Date.now();
  readonly #series = new Map<string, ChartPoint[]>();
  readonly #events: AppEvent[] = [];
  readonly #previousMain = { handled: 0, at: 0 };
  readonly #onSample = (snapshot: HealthSnapshot): void => this.record(snapshot);
  readonly #onEvent = (event: AppEvent): void => this.addEvent(event);

  constructor(options: DashboardHistoryOptions) {
    this.#o = options;
  }

  /** Listen to the monitor's samples and the app's events. */
  start(): void {
    this.#o.monitor.on('sample', this.#onSample);
    this.#o.events.on('event', this.#onEvent);
  }

  /** Stop listening (the history is kept). Idempotent. */
  stop(): void {
    this.#o.monitor.off('sample', this.#onSample);
    this.#o.events.off('event', this.#onEvent);
  }

  /** Add the chart points of one health sample. */
  record(snapshot: HealthSnapshot): void {
    const at = snapshot.at;
    for (const pool of snapshot.pools) {
      this.#push(pool.name, [at, round1(pool.load.messagesPerSecond), pool.load.p95Ms ?? null, pool.load.busyRatio]);
    }
    // The main process reports counters, not a load: its msg/s is the handled count's rise between points.
    const handled = snapshot.main.stats?.total.handled ?? 0;
    const previous = this.#previousMain;
    if (previous.at === 0 || at - previous.at >= DASHBOARD_LIMITS.pointIntervalMs) {
      const rate = previous.at === 0 ? 0 : Math.max(0, ((handled - previous.handled) * 1000) / (at - previous.at));
      if (snapshot.main.stats && Object.keys(snapshot.main.stats.routes).length > 0) {
        const p95 = snapshot.main.recent.p95Ms;
        this.#push('main', [at, round1(rate), p95 === undefined ? null : round1(p95), null]);
      }
      previous.handled = handled;
      previous.at = at;
    }
    this.#prune(at);
  }

  /** Keep one lifecycle event (the oldest goes when {@link DASHBOARD_LIMITS.events} are kept). */
  addEvent(event: AppEvent): void {
    this.#events.push(event);
    if (this.#events.length > DASHBOARD_LIMITS.events) this.#events.shift();
  }

  /** The body of `GET /dashboard/data` for this snapshot. */
  data(snapshot: HealthSnapshot | undefined): DashboardData {
    return {
      info: { ...this.#o.info, startedAt: this.#startedAt },
      routes: snapshot ? routeFigures(snapshot) : [],
      series: Object.fromEntries(this.#series),
      events: [...this.#events],
      limits: DASHBOARD_LIMITS,
    };
  }

  #push(name: string, point: ChartPoint): void {
    let series = this.#series.get(name);
    if (!series) {
      if (this.#series.size >= DASHBOARD_LIMITS.maxSeries) return;
      series = [];
      this.#series.set(name, series);
    }
    const last = series[series.length - 1];
    if (last && point[0] - last[0] < DASHBOARD_LIMITS.pointIntervalMs) return;
    series.push(point);
    if (series.length > DASHBOARD_LIMITS.pointsPerSeries) series.shift();
  }

  #prune(now: number): void {
    const oldest = now - DASHBOARD_LIMITS.windowMs;
    for (const [name, series] of this.#series) {
      while (series.length > 0 && (series[0] as ChartPoint)[0] < oldest) series.shift();
      if (series.length === 0) this.#series.delete(name);
    }
  }
}
