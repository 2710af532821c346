import type { MessageStatsSnapshot } from '../message/stats.js';
import { liveFigures } from '../message/stats-window.js';
import type { LiveFigures, WindowDelta } from '../message/stats-window.js';
import type { RuntimeSample } from '../util/runtime-meter.js';
import { poolLoadOf } from './pool-load.js';
import type { PoolLoad } from './pool-load.js';
import type { WorkerLoad } from './load-meter.js';
import type { Pool } from './pool.js';
import type { RestartPolicy } from './restart-policy.js';
import type { WorkerState } from './worker-process.js';

/** One worker in {@link WorkerHealth}. */
export interface WorkerHealthEntry {
  /** `<pool>-<slot>` */
  readonly workerId: string;
  readonly pool: string;
  readonly slot: number;
  readonly clientId: string;
  readonly pid: number | undefined;
  readonly isAlive: boolean;
  /** Exit code of the slot's previous process, if it had one. */
  readonly exitCode: number | null | undefined;
  readonly exitSignal: string | null | undefined;
  /** Unexpected exits of this slot so far. */
  readonly restarts: number;
  readonly status: WorkerState;
  /** `Date.now()` when it became ready, or 0. */
  readonly createTime: number;
  readonly uptimeMs: number;
  /** Time since the last heartbeat. */
  readonly heartbeatAgeMs: number;
  readonly inFlight: number;
  /** Resident memory in MB, rounded to 0.1 (for people; `memoryBytes` is exact). */
  readonly memoryMb: number;
  /** Resident memory in bytes, as the worker last reported it. */
  readonly memoryBytes: number;
  readonly stats: MessageStatsSnapshot | undefined;
  /** Its load over the last stats interval (busy ratio, messages/s, p95): the autoscaler's input. */
  readonly load: WorkerLoad | undefined;
  /** Its messages/s over the last 10 s and percentiles over the last 60 s, each labelled with its window. */
  readonly recent: LiveFigures;
  /** Event-loop lag and GC, from its last stats message. */
  readonly runtime: RuntimeSample | undefined;
}

/** One pool in {@link WorkerHealth}. */
export interface PoolHealth {
  readonly name: string;
  readonly routes: readonly string[];
  readonly desired: number;
  readonly live: number;
  readonly ready: number;
  readonly degraded: boolean;
  readonly restartsInWindow: number;
  readonly totalRestarts: number;
  /** The ready workers' loads combined. */
  readonly load: PoolLoad;
  /** Its workers' live figures combined (rates summed, percentiles of the merged histograms). */
  readonly recent: LiveFigures;
}

/** `getWorkerHealth()`: the seed's shape in camelCase, plus pools. */
export interface WorkerHealth {
  readonly totalWorkers: number;
  readonly activeWorkers: number;
  readonly workers: readonly WorkerHealthEntry[];
  readonly pools: readonly PoolHealth[];
}

/** The window differences of every live worker of `pools` (for per-route figures over every process). */
export function windowDeltasOf(pools: readonly Pool[]): WindowDelta[] {
  return pools.flatMap((pool) => [...pool.workers()].map(([, worker]) => worker.window.delta()));
}

/** Build a health snapshot from the pools' state. */
export function describeHealth(
  pools: readonly Pool[],
  policy: Pick<RestartPolicy, 'restartWindowMs'>,
  now = Date.now(),
): WorkerHealth {
  const workers: WorkerHealthEntry[] = [];
  const poolHealth: PoolHealth[] = [];
  for (const pool of pools) {
    let ready = 0;
    const loads: WorkerLoad[] = [];
    const deltas: WindowDelta[] = [];
    for (const [, worker] of pool.workers()) {
      const delta = worker.window.delta();
      deltas.push(delta);
      if (worker.state === 'ready') ready++;
      if (worker.state === 'ready' && worker.load) loads.push(worker.load);
      workers.push({
        workerId: worker.id,
        pool: pool.name,
        slot: worker.assignment.slot,
        clientId: worker.assignment.clientId,
        pid: worker.pid,
        isAlive: worker.state !== 'dead',
        exitCode: pool.lastExit(worker.assignment.slot)?.code,
        exitSignal: pool.lastExit(worker.assignment.slot)?.signal,
        restarts: pool.restartsOf(worker.assignment.slot),
        status: worker.state,
        createTime: worker.readyAt,
        uptimeMs: worker.readyAt > 0 ? now - worker.readyAt : 0,
        heartbeatAgeMs: now - worker.lastHeartbeatAt,
        inFlight: worker.stats?.inFlight ?? 0,
        memoryMb: Math.round((worker.memoryRssBytes / 1024 / 1024) * 10) / 10,
        memoryBytes: worker.memoryRssBytes,
        stats: worker.stats,
        load: worker.load,
        recent: liveFigures([delta]),
        runtime: worker.runtime,
      });
    }
    poolHealth.push({
      name: pool.name,
      routes: pool.plan.routes.map((r) => r.pattern),
      desired: pool.desired,
      live: pool.live().length,
      ready,
      degraded: pool.degraded,
      restartsInWindow: pool.restartsInWindow(policy, now),
      totalRestarts: pool.totalRestarts,
      load: poolLoadOf(loads),
      recent: liveFigures(deltas),
    });
  }
  workers.sort((a, b) => (a.pool === b.pool ? a.slot - b.slot : a.pool < b.pool ? -1 : 1));
  return {
    totalWorkers: workers.length,
    activeWorkers: workers.filter((w) => w.status === 'ready').length,
    workers,
    pools: poolHealth,
  };
}
