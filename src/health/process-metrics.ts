import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { RuntimeSample } from '../util/runtime-meter.js';
import type { HealthSnapshot } from './health-monitor.js';

/** One process as the per-process metrics label it: the main process is pool `main`, slot 0, worker `main`. */
interface ProcessView {
  readonly labels: { readonly worker: string; readonly pool: string; readonly slot: string };
  readonly cpuPercent: number;
  readonly memoryBytes: number;
  readonly inFlight: number;
  readonly runtime: RuntimeSample | undefined;
}

function processesOf(h: HealthSnapshot): ProcessView[] {
  return [
    {
      labels: { worker: 'main', pool: 'main', slot: '0' },
      cpuPercent: h.main.cpuPercent,
      memoryBytes: h.main.memoryBytes,
      inFlight: h.main.stats?.inFlight ?? 0,
      runtime: h.main.runtime,
    },
    ...h.workers.map((w) => ({
      labels: { worker: w.workerId, pool: w.pool, slot: String(w.slot) },
      cpuPercent: w.cpuPercent,
      memoryBytes: w.memoryBytes,
      inFlight: w.inFlight,
      runtime: w.runtime,
    })),
  ];
}

const LABELS = ['worker', 'pool', 'slot'];

/**
 * Metrics of each process (the main one and every worker), read from the health monitor's latest sample: CPU,
 * exact resident bytes, messages in flight, event-loop lag and GC (measured inside each process and sent with its
 * stats), and each route's backlog and oldest unacked message over this host's processes.
 */
export function registerProcessMetrics(registry: Registry, health: () => HealthSnapshot | undefined): void {
  const perProcess = (name: string, help: string, pick: (p: ProcessView) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        const h = health();
        if (!h) return;
        for (const p of processesOf(h)) {
          const value = pick(p);
          if (value !== undefined) this.set(p.labels, value);
        }
      },
    });
  };
  perProcess('routemq_messages_in_flight', 'Handlers running now, per process.', (p) => p.inFlight);
  perProcess('routemq_worker_cpu_percent', 'CPU of each process, percent of one core (pidusage).', (p) => p.cpuPercent);
  perProcess(
    'routemq_worker_memory_bytes',
    'Resident memory of each process, in bytes (pidusage).',
    (p) => p.memoryBytes,
  );
  perProcess(
    'routemq_worker_event_loop_lag_seconds',
    'Mean event-loop delay of each process over its last stats interval (monitorEventLoopDelay).',
    (p) => p.runtime?.eventLoopLagSeconds,
  );
  perProcess(
    'routemq_worker_event_loop_lag_p99_seconds',
    '99th percentile of the event-loop delay of each process over its last stats interval.',
    (p) => p.runtime?.eventLoopLagP99Seconds,
  );
  const gcCounter = (
    name: string,
    help: string,
    pick: (r: RuntimeSample) => Readonly<Record<string, number>>,
  ): void => {
    new Counter({
      name,
      help,
      labelNames: [...LABELS, 'kind'],
      registers: [registry],
      collect() {
        this.reset();
        const h = health();
        if (!h) return;
        for (const p of processesOf(h)) {
          if (!p.runtime) continue;
          for (const [kind, value] of Object.entries(pick(p.runtime))) this.inc({ ...p.labels, kind }, value);
        }
      },
    });
  };
  gcCounter(
    'routemq_worker_gc_duration_seconds_total',
    'Time each process spent in garbage collection since it started, by GC kind.',
    (r) => r.gcSecondsTotal,
  );
  gcCounter(
    'routemq_worker_gc_runs_total',
    'Garbage collections of each process since it started, by GC kind.',
    (r) => r.gcRunsTotal,
  );
  const perRoute = (name: string, help: string, pick: (r: HealthSnapshot['routes'][number]) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['route'],
      registers: [registry],
      collect() {
        this.reset();
        for (const r of health()?.routes ?? []) this.set({ route: r.route }, pick(r));
      },
    });
  };
  perRoute(
    'routemq_route_backlog_messages',
    'Messages received and not yet acked, per route pattern, over this host (the broker’s own queue is not visible).',
    (r) => r.backlogMessages,
  );
  perRoute(
    'routemq_route_oldest_unacked_age_seconds',
    'Age of the oldest message received and not yet acked, per route pattern, over this host; 0 when none.',
    (r) => r.oldestUnackedAgeSeconds,
  );
}
