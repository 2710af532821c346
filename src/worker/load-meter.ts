import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { histogramQuantile, mergeHistograms } from '../message/duration-histogram.js';
import type { HistogramData } from '../message/duration-histogram.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import { round3 } from '../util/round.js';

/** One worker's load over its last stats interval: what the autoscaler and `/scaling` read. */
export interface WorkerLoad {
  /** Messages finished (handled or dead-lettered) per second. */
  readonly messagesPerSecond: number;
  /**
   * How busy the worker is, 0..1: the larger of its handler-slot occupancy (time in handlers ÷ (wall time ×
   * concurrency): I/O-bound handlers fill their slots) and its event-loop utilisation (CPU-bound handlers fill the
   * loop long before their slots).
   */
  readonly busyRatio: number;
  readonly slotOccupancy: number;
  readonly eventLoopUtilization: number;
  /** Handler p95 over the interval, in milliseconds; `undefined` when nothing ran. */
  readonly p95Ms: number | undefined;
  readonly inFlight: number;
}

interface Reading {
  readonly at: number;
  readonly finished: number;
  readonly durations: HistogramData;
  readonly elu: EventLoopUtilization;
}

/**
 * Measures a worker's {@link WorkerLoad} from successive stats snapshots: each call covers the time since the
 * previous one. O(routes × buckets) per call, once per heartbeat; nothing per message.
 */
export class LoadMeter {
  readonly #concurrency: number;
  #last: Reading;

  constructor(concurrency: number, stats: MessageStatsSnapshot) {
    this.#concurrency = Math.max(1, concurrency);
    this.#last = read(stats, performance.eventLoopUtilization());
  }

  measure(stats: MessageStatsSnapshot): WorkerLoad {
    const now = read(stats, performance.eventLoopUtilization());
    const previous = this.#last;
    this.#last = now;
    const seconds = Math.max(0.001, (now.at - previous.at) / 1000);
    const delta: HistogramData = {
      counts: now.durations.counts.map((n, i) => n - (previous.durations.counts[i] ?? 0)),
      sum: now.durations.sum - previous.durations.sum,
      count: now.durations.count - previous.durations.count,
    };
    // Durations count only once a try settles, so a slot held all interval by a long try (a slow call, a message
    // waiting on a rate limit) would look idle: the slots held right now count too.
    const slotOccupancy = clamp01(
      Math.max(delta.sum / (seconds * this.#concurrency), stats.inFlight / this.#concurrency),
    );
    const eventLoopUtilization = clamp01(performance.eventLoopUtilization(now.elu, previous.elu).utilization);
    const p95 = histogramQuantile(delta, 0.95);
    return {
      messagesPerSecond: round3((now.finished - previous.finished) / seconds),
      busyRatio: round3(Math.max(slotOccupancy, eventLoopUtilization)),
      slotOccupancy: round3(slotOccupancy),
      eventLoopUtilization: round3(eventLoopUtilization),
      p95Ms: p95 === undefined ? undefined : round3(p95 * 1000),
      inFlight: stats.inFlight,
    };
  }
}

function read(stats: MessageStatsSnapshot, elu: EventLoopUtilization): Reading {
  return {
    at: Date.now(),
    finished: stats.total.handled + stats.total.deadLettered,
    durations: mergeHistograms(Object.values(stats.durations)),
    elu,
  };
}

function clamp01(n: number): number {
  return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
}
