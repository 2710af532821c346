import type { HealthSnapshot } from '../health/health-monitor.js';
import type { LiveFigures } from '../message/stats-window.js';
import { formatTable } from './format-table.js';

const dash = (n: number | undefined): string => (n === undefined ? '-' : String(n));
const percentiles = (f: LiveFigures): string => `${dash(f.p50Ms)}/${dash(f.p95Ms)}/${dash(f.p99Ms)}`;

/**
 * The human form of `routemq status` (and each frame of `--watch`): the main process, pools, workers and routes.
 * Every live figure names its window in its column header: msg/s over the last 10 s, p50/p95/p99 over the last
 * 60 s. The main process (it runs the non-shared routes) is the pool and worker `main`.
 */
export function formatStatus(status: HealthSnapshot): string {
  const main = status.main;
  const rw = `${main.recent.rateWindowS}s`;
  const lw = `${main.recent.latencyWindowS}s`;
  const head = [
    `state: ${status.state}   ready: ${status.ready ? 'yes' : 'no'}   mqtt: ${status.mqttConnected ? 'connected' : 'down'}   ` +
      `main pid: ${main.pid} (cpu ${main.cpuPercent}%, ${main.memoryMb} MB)`,
    ...status.problems.map((p) => `  ! ${p}`),
  ];
  const pools = [
    {
      pool: 'main',
      workers: '1/1',
      busy: '-',
      [`msg/s (${rw})`]: String(main.recent.messagesPerSecond),
      [`p50/p95/p99 ms (${lw})`]: percentiles(main.recent),
      degraded: 'no',
      restarts: '0',
      routes: main.routes.join(', '),
    },
    ...status.pools.map((p) => ({
      pool: p.name,
      workers: `${p.ready}/${p.desired}`,
      busy: `${Math.round(p.load.busyRatio * 100)}%`,
      [`msg/s (${rw})`]: String(p.recent.messagesPerSecond),
      [`p50/p95/p99 ms (${lw})`]: percentiles(p.recent),
      degraded: p.degraded ? 'yes' : 'no',
      restarts: String(p.totalRestarts),
      routes: p.routes.join(', '),
    })),
  ];
  const workers = [
    {
      worker: 'main',
      state: status.state,
      pid: String(main.pid),
      cpu: `${main.cpuPercent}%`,
      mem: `${main.memoryMb} MB`,
      uptime: `${Math.round(main.uptimeMs / 1000)} s`,
      restarts: '0',
      [`msg/s (${rw})`]: String(main.recent.messagesPerSecond),
      [`p95 ms (${lw})`]: dash(main.recent.p95Ms),
      handled: String(main.stats?.total.handled ?? 0),
    },
    ...status.workers.map((w) => ({
      worker: w.workerId,
      state: w.status,
      pid: String(w.pid ?? '-'),
      cpu: `${w.cpuPercent}%`,
      mem: `${w.memoryMb} MB`,
      uptime: `${Math.round(w.uptimeMs / 1000)} s`,
      restarts: String(w.restarts),
      [`msg/s (${rw})`]: String(w.recent.messagesPerSecond),
      [`p95 ms (${lw})`]: dash(w.recent.p95Ms),
      handled: String(w.stats?.total.handled ?? 0),
    })),
  ];
  const routes = status.routes.map((r) => ({
    route: r.route,
    [`msg/s (${rw})`]: String(r.recent.messagesPerSecond),
    [`failed/s (${rw})`]: String(r.recent.failedPerSecond),
    [`p50/p95/p99 ms (${lw})`]: percentiles(r.recent),
    backlog: String(r.backlogMessages),
    'oldest unacked': `${Math.round(r.oldestUnackedAgeSeconds * 10) / 10} s`,
  }));
  return [
    ...head,
    '',
    formatTable(pools).trimEnd(),
    '',
    formatTable(workers).trimEnd(),
    '',
    formatTable(routes).trimEnd(),
    '',
  ].join('\n');
}
