import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric } from 'prom-client';
import { DURATION_BUCKETS_S } from '../message/duration-histogram.js';
import type { MessageCounters } from '../message/stats.js';
import type { AggregatedStats } from './metrics-aggregator.js';
import type { HealthSnapshot } from './health-monitor.js';
import type { PoolScalingView, ScalingView } from '../scaling/autoscaler.js';
import type { DeadLetterStatus } from '../dlq/dead-letter-office.js';
import { registerProcessMetrics } from './process-metrics.js';

/** What the metrics read at each scrape. */
export interface MetricsSource {
  /** Counters summed over every process (see MetricsAggregator). */
  aggregate(): AggregatedStats;
  /** The latest health sample (cpu, memory, states). */
  health(): HealthSnapshot | undefined;
  /** The autoscaler's signals and decisions, per pool. */
  scaling?(): ScalingView | undefined;
  /** The dead-letter office's counts and the store's size (kept by the main process, which stores them all). */
  deadLetters?(): DeadLetterStatus | undefined;
}

const COUNTERS: readonly [keyof MessageCounters, string, string][] = [
  ['received', 'routemq_messages_received_total', 'Messages that reached a route, per route pattern.'],
  ['handled', 'routemq_messages_handled_total', 'Messages whose handler settled without error, per route pattern.'],
  ['failed', 'routemq_messages_failed_total', 'Failed handler tries, per route pattern.'],
  ['retried', 'routemq_messages_retried_total', 'Retries scheduled, per route pattern.'],
  [
    'deadLettered',
    'routemq_messages_dead_lettered_total',
    'Messages dead-lettered (stored, then acked), per route pattern, as each process counted them.',
  ],
];

/**
 * The Prometheus registry of a RouteMQ app (prom-client): message counters and handler durations aggregated
 * across all worker processes and labelled by route *pattern* (never the concrete topic: cardinality), worker
 * gauges (see `registerProcessMetrics`: the main process is the pool `main`, slot 0), MQTT connection state, and
 * the main process's default Node metrics.
 */
export function createMetricsRegistry(source: MetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client also exports these sums of the per-type `nodejs_active_*` gauges as gauges ending in `_total`, which
  // `promtool check metrics` rejects (only counters end in _total); the per-type gauges carry the same numbers.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);
  for (const [key, name, help] of COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['route'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [route, counters] of source.aggregate().routes) this.inc({ route }, counters[key]);
      },
    });
  }
  new Counter({
    name: 'routemq_messages_no_route_total',
    help: 'Messages whose topic matched no route.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.aggregate().noRoute);
    },
  });
  registry.registerMetric(durationHistogram(source));
  deadLetterMetrics(registry, source);
  gauge(registry, 'routemq_workers', 'Worker processes by pool and state.', ['pool', 'state'], (set, h) => {
    const counts = new Map<string, number>();
    for (const w of h.workers)
      counts.set(`${w.pool}\u0000${w.status}`, (counts.get(`${w.pool}\u0000${w.status}`) ?? 0) + 1);
    for (const pool of h.pools)
      for (const state of ['starting', 'ready', 'draining', 'stuck'] as const) {
        set({ pool: pool.name, state }, counts.get(`${pool.name}\u0000${state}`) ?? 0);
      }
  });
  gauge(registry, 'routemq_pool_degraded', 'Whether a pool is degraded (crash loop): 1 or 0.', ['pool'], (set, h) => {
    for (const pool of h.pools) set({ pool: pool.name }, pool.degraded ? 1 : 0);
  });
  new Counter({
    name: 'routemq_worker_restarts_total',
    help: 'Unexpected worker exits per pool since start.',
    labelNames: ['pool'],
    registers: [registry],
    collect() {
      this.reset();
      for (const pool of source.health()?.pools ?? []) this.inc({ pool: pool.name }, pool.totalRestarts);
    },
  });
  registerProcessMetrics(registry, () => source.health());
  gauge(registry, 'routemq_mqtt_connected', 'Whether the main MQTT connection is up: 1 or 0.', [], (set, h) => {
    set({}, h.mqttConnected ? 1 : 0);
  });
  gauge(registry, 'routemq_ready', 'Whether the app is ready (the /ready check): 1 or 0.', [], (set, h) => {
    set({}, h.ready ? 1 : 0);
  });
  const scalingGauges: readonly [string, string, (p: PoolScalingView) => number | undefined][] = [
    [
      'routemq_pool_desired_workers',
      'Workers a pool should have over all hosts: the autoscaler’s last decision, or its current size.',
      (p) => p.desired,
    ],
    [
      'routemq_pool_busy_ratio',
      'Busy ratio of a pool (time in handlers or event-loop use, 0..1), over all hosts that report.',
      (p) => p.load.busyRatio,
    ],
    [
      'routemq_pool_messages_per_second',
      'Messages finished per second by a pool, over all hosts.',
      (p) => p.load.messagesPerSecond,
    ],
    [
      'routemq_pool_queue_depth',
      'The external backlog (metrics:queue_depth in Redis), when a producer sets it.',
      (p) => p.queueDepth,
    ],
  ];
  for (const [name, help, pick] of scalingGauges) {
    new Gauge({
      name,
      help,
      labelNames: ['pool'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [pool, view] of Object.entries(source.scaling?.()?.pools ?? {})) {
          const value = pick(view);
          if (value !== undefined) this.set({ pool }, value);
        }
      },
    });
  }
  return registry;

  function gauge(
    reg: Registry,
    name: string,
    help: string,
    labelNames: string[],
    fill: (set: (labels: Record<string, string>, value: number) => void, health: HealthSnapshot) => void,
  ): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [reg],
      collect() {
        this.reset();
        const health = source.health();
        if (health) fill((labels, value) => this.set(labels, value), health);
      },
    });
  }
}

/**
 * The dead-letter store's metrics. Every dead letter, a worker's too, is stored by the main process (workers hand
 * theirs over IPC), so these counters live there: a worker's restart cannot make them go down; they start at 0
 * with the main process, as Prometheus counters do.
 */
function deadLetterMetrics(registry: Registry, source: MetricsSource): void {
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (inc: (labels: Record<string, string>, value: number) => void, s: DeadLetterStatus) => void,
  ): void =>
    void new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const status = source.deadLetters?.();
        if (status) fill((labels, value) => this.inc(labels, value), status);
      },
    });
  const gauge = (name: string, help: string, pick: (s: DeadLetterStatus) => number): void =>
    void new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const status = source.deadLetters?.();
        if (status) this.set(pick(status));
      },
    });
  counter(
    'routemq_dead_letters_total',
    'Dead letters stored in the dead-letter store since start, per route pattern and error code.',
    ['route', 'code'],
    (inc, s) => {
      for (const { route, code, count } of s.stored) inc({ route, code }, count);
    },
  );
  counter(
    'routemq_dead_letter_refusals_total',
    'MQTT copies of dead letters the broker refused or that could not be sent, per route pattern and reason ' +
      '(not-authorised, too-large, reason-0x.., not-connected). The dead letters themselves are in the store.',
    ['route', 'reason'],
    (inc, s) => {
      for (const { route, reason, count } of s.refusals) inc({ route, reason }, count);
    },
  );
  counter(
    'routemq_dead_letter_copies_truncated_total',
    'MQTT copies of dead letters sent with their payload cut to fit the maximum packet size.',
    [],
    (inc, s) => inc({}, s.truncatedCopies),
  );
  // A Redis stream is shared by every instance on the prefix, and each reports all of it: aggregate with max().
  const shared = ' (a Redis stream: all of it, as this instance last read it; take max() over instances, not sum)';
  gauge('routemq_dead_letter_store_entries', `Dead letters in the store${shared}.`, (s) => s.store.entries);
  gauge('routemq_dead_letter_store_bytes', `Bytes of dead letters in the store${shared}.`, (s) => s.store.bytes);
  gauge(
    'routemq_dead_letter_store_max_entries',
    'The store’s entry limit (ROUTEMQ_DLQ_MAX_ENTRIES).',
    (s) => s.store.maxEntries,
  );
  gauge(
    'routemq_dead_letter_store_max_bytes',
    'The store’s byte limit (ROUTEMQ_DLQ_MAX_BYTES).',
    (s) => s.store.maxBytes,
  );
  gauge(
    'routemq_dead_letter_store_full',
    'Whether the last put was refused for lack of room: 1 or 0 (then dead letters wait unacked).',
    (s) => (s.store.full ? 1 : 0),
  );
}

function durationHistogram(source: MetricsSource): Metric {
  const name = 'routemq_handler_duration_seconds';
  const help = 'Handler duration per try, per route pattern, summed over every worker.';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => undefined,
    get: () => {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [route, h] of source.aggregate().durations) {
        let cumulative = 0;
        h.counts.forEach((n, i) => {
          cumulative += n;
          const le = i < DURATION_BUCKETS_S.length ? String(DURATION_BUCKETS_S[i]) : '+Inf';
          values.push({ labels: { le, route }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: { route }, value: h.sum, metricName: `${name}_sum` });
        values.push({ labels: { route }, value: h.count, metricName: `${name}_count` });
      }
      return Promise.resolve({ name, help, type: 'histogram', aggregator: 'sum', values });
    },
  } as unknown as Metric;
}
