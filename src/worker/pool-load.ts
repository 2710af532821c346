import type { WorkerLoad } from './load-meter.js';
import { round3 } from '../util/round.js';

/** A pool's load: its workers' {@link WorkerLoad}s combined, on one host or over all of them. */
export interface PoolLoad {
  /** Workers that reported. */
  readonly workers: number;
  /** Summed. */
  readonly messagesPerSecond: number;
  /** Averaged over the workers, 0..1. */
  readonly busyRatio: number;
  /** The largest. */
  readonly p95Ms: number | undefined;
  /** Summed. */
  readonly inFlight: number;
}

/** The load of no worker at all. */
export const IDLE_LOAD: PoolLoad = Object.freeze({
  workers: 0,
  messagesPerSecond: 0,
  busyRatio: 0,
  p95Ms: undefined,
  inFlight: 0,
});

/** Combine workers' loads (one host's pool). */
export function poolLoadOf(loads: readonly WorkerLoad[]): PoolLoad {
  return combinePoolLoads(loads.map((l) => ({ ...l, workers: 1 })));
}

/** Combine pool loads (one pool over several hosts): sums, a worker-weighted mean busy ratio, the largest p95. */
export function combinePoolLoads(parts: readonly PoolLoad[]): PoolLoad {
  const workers = parts.reduce((n, p) => n + p.workers, 0);
  if (workers === 0) return IDLE_LOAD;
  const p95s = parts.flatMap((p) => (p.p95Ms === undefined ? [] : [p.p95Ms]));
  return {
    workers,
    messagesPerSecond: round3(parts.reduce((n, p) => n + p.messagesPerSecond, 0)),
    busyRatio: round3(parts.reduce((n, p) => n + p.busyRatio * p.workers, 0) / workers),
    p95Ms: p95s.length === 0 ? undefined : Math.max(...p95s),
    inFlight: parts.reduce((n, p) => n + p.inFlight, 0),
  };
}
