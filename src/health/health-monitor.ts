import { EventEmitter } from 'node:events';
import pidusage from 'pidusage';
import type { Logger } from '../logger.js';
import { StatsWindow, liveFigures } from '../message/stats-window.js';
import type { LiveFigures, WindowDelta } from '../message/stats-window.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import { RuntimeMeter } from '../util/runtime-meter.js';
import type { RuntimeSample } from '../util/runtime-meter.js';
import { routeFiguresOf } from './route-figures.js';
import type { RouteFigures } from './route-figures.js';
import type { AppStatus } from '../runtime/app.js';
import type { PoolHealth, WorkerHealthEntry } from '../worker/worker-health.js';

/**
 * One worker as the health monitor reports it: the manager's view (with its `recent` live figures) plus pidusage.
 */
export interface MonitoredWorker extends WorkerHealthEntry {
  /** CPU in percent of one core, from pidusage. */
  readonly cpuPercent: number;
}

/** What `/status`, `routemq status` and the dashboard show. */
export interface HealthSnapshot {
  readonly at: number;
  readonly ready: boolean;
  readonly problems: readonly string[];
  readonly state: AppStatus['state'];
  readonly mqttConnected: boolean;
  readonly main: {
    readonly pid: number;
    readonly cpuPercent: number;
    readonly memoryMb: number;
    /** Resident memory in bytes (pidusage). */
    readonly memoryBytes: number;
    readonly uptimeMs: number;
    readonly stats: MessageStatsSnapshot | undefined;
    /** Route patterns the main process serves (its non-shared routes). */
    readonly routes: readonly string[];
    /** Its messages/s over the last 10 s and percentiles over the last 60 s, as for a worker. */
    readonly recent: LiveFigures;
    /** Its event-loop lag (over the last second) and GC. */
    readonly runtime: RuntimeSample | undefined;
  };
  readonly totalWorkers: number;
  readonly activeWorkers: number;
  readonly pools: readonly PoolHealth[];
  readonly workers: readonly MonitoredWorker[];
  /** Every route pattern over every process of this host: live figures and backlog. */
  readonly routes: readonly RouteFigures[];
  /** The dead-letter store's size, dead letters stored and MQTT copies refused since start. */
  readonly deadLetters?: AppStatus['deadLetters'];
}

/** Events of {@link HealthMonitor}. */
export interface HealthMonitorEvents {
  sample: [snapshot: HealthSnapshot];
  /** A worker is above `maxMemoryMb`; whoever owns the workers decides what to do (drain and replace). */
  'memory:exceeded': [{ readonly workerId: string; readonly memoryMb: number; readonly limitMb: number }];
}

/** Options of {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  /** The app's own view (state, readiness, workers from IPC). */
  readonly status: () => AppStatus;
  readonly intervalMs: number;
  /** The workers' stats-window differences, for per-route figures (`WorkerManager.windowDeltas`). */
  readonly windowDeltas?: () => readonly WindowDelta[];
  readonly maxMemoryMb?: number | undefined;
  readonly logger: Logger;
}

const MB = 1024 * 1024;
/** The main process's stats are sampled into its window this often, as a worker sends its stats. */
const MAIN_SAMPLE_MS = 1000;
const round1 = (n: number): number => Math.round(n * 10) / 10;

/**
 * Samples the main process and every worker with pidusage every `intervalMs`, and joins that with what the
 * workers report over IPC (state, heartbeats, counters, handler durations). It observes and emits; it never
 * restarts anything itself.
 */
export class HealthMonitor extends EventEmitter<HealthMonitorEvents> {
  readonly #o: HealthMonitorOptions;
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #mainTimer: NodeJS.Timeout | undefined;
  readonly #mainWindow = new StatsWindow();
  readonly #mainRuntime = new RuntimeMeter();
  #mainRuntimeSample: RuntimeSample | undefined;
  #snapshot: HealthSnapshot | undefined;
  readonly #overLimit = new Set<string>();
  #sampling: Promise<HealthSnapshot> | undefined;

  constructor(options: HealthMonitorOptions) {
    super();
    this.#o = options;
  }

  /** Start sampling. */
  start(): void {
    this.#timer ??= setInterval(() => void this.sample(), this.#o.intervalMs);
    this.#timer.unref();
    this.#mainRuntime.start();
    // A fixed cadence, whoever reads: reads never feed the window, so they never change the figures.
    this.#mainTimer ??= setInterval(() => this.#sampleMain(), MAIN_SAMPLE_MS);
    this.#mainTimer.unref();
    this.#sampleMain();
    void this.sample();
  }

  #sampleMain(): void {
    const stats = this.#o.status().main;
    if (stats) this.#mainWindow.record(Date.now(), stats);
    this.#mainRuntimeSample = this.#mainRuntime.sample();
  }

  /** The latest snapshot (sampled now if there is none yet). */
  async snapshot(): Promise<HealthSnapshot> {
    return this.#snapshot ?? (await this.sample());
  }

  /**
   * RouteMQ's `get_worker_health()` in camelCase: `{ totalWorkers, activeWorkers, workers: [{ workerId, pid,
   * isAlive, exitCode, cpuPercent, memoryMb, createTime, status, … }] }`, plus pools and their degraded flag.
   */
  async getWorkerHealth(): Promise<Pick<HealthSnapshot, 'totalWorkers' | 'activeWorkers' | 'workers' | 'pools'>> {
    const { totalWorkers, activeWorkers, workers, pools } = await this.sample();
    return { totalWorkers, activeWorkers, workers, pools };
  }

  /** The latest snapshot, if any, without waiting. */
  get latest(): HealthSnapshot | undefined {
    return this.#snapshot;
  }

  /** Take a sample now (concurrent calls share one). */
  sample(): Promise<HealthSnapshot> {
    this.#sampling ??= this.#sample().finally(() => (this.#sampling = undefined));
    return this.#sampling;
  }

  async #sample(): Promise<HealthSnapshot> {
    const status = this.#o.status();
    // Read with the status, before any await: a stats message arriving meanwhile must not make the routes' figures
    // newer than the workers' and pools'.
    const mainDelta = this.#mainWindow.delta();
    const deltas = [mainDelta, ...(this.#o.windowDeltas?.() ?? [])];
    const workers = status.workers?.workers ?? [];
    const pids = [process.pid, ...workers.flatMap((w) => (w.pid !== undefined && w.isAlive ? [w.pid] : []))];
    let usage: Record<string, { cpu: number; memory: number }> = {};
    try {
      usage = await pidusage(pids);
    } catch (err) {
      // A worker that exited between the status and the sample; the next sample is fine.
      this.#o.logger.debug({ err }, 'pidusage sample failed');
    }
    const now = Date.now();
    const monitored = workers.map((w) => this.#monitor(w, usage[String(w.pid)]));
    const self = usage[String(process.pid)];
    const memoryBytes = self?.memory ?? process.memoryUsage.rss();
    const snapshot: HealthSnapshot = {
      at: now,
      ready: status.ready,
      problems: status.problems,
      state: status.state,
      mqttConnected: status.mqttConnected,
      main: {
        pid: process.pid,
        cpuPercent: round1(self?.cpu ?? 0),
        memoryMb: round1(memoryBytes / MB),
        memoryBytes,
        uptimeMs: now - this.#startedAt,
        stats: status.main,
        routes: status.mainRoutes ?? Object.keys(status.main?.routes ?? {}).sort(),
        recent: liveFigures([mainDelta]),
        runtime: this.#mainRuntimeSample,
      },
      totalWorkers: status.workers?.totalWorkers ?? 0,
      activeWorkers: status.workers?.activeWorkers ?? 0,
      pools: status.workers?.pools ?? [],
      workers: monitored,
      routes: routeFiguresOf(deltas, [status.main, ...workers.map((w) => w.stats)], now, [
        ...(status.mainRoutes ?? []),
        ...(status.workers?.pools ?? []).flatMap((p) => p.routes),
      ]),
      ...(status.deadLetters ? { deadLetters: status.deadLetters } : {}),
    };
    this.#snapshot = snapshot;
    this.#checkMemory(monitored);
    this.emit('sample', snapshot);
    return snapshot;
  }

  #monitor(worker: WorkerHealthEntry, usage: { cpu: number; memory: number } | undefined): MonitoredWorker {
    return {
      ...worker,
      cpuPercent: round1(usage?.cpu ?? 0),
      memoryMb: usage ? round1(usage.memory / MB) : worker.memoryMb,
      memoryBytes: usage ? usage.memory : worker.memoryBytes,
    };
  }

  #checkMemory(workers: readonly MonitoredWorker[]): void {
    const limit = this.#o.maxMemoryMb;
    if (limit === undefined) return;
    for (const w of workers) {
      if (w.status !== 'ready' || w.memoryMb <= limit) {
        if (w.memoryMb <= limit) this.#overLimit.delete(`${w.workerId}:${String(w.pid)}`);
        continue;
      }
      const key = `${w.workerId}:${String(w.pid)}`;
      if (this.#overLimit.has(key)) continue;
      this.#overLimit.add(key);
      this.#o.logger.warn(
        { workerId: w.workerId, workerPid: w.pid, memoryMb: w.memoryMb, limitMb: limit },
        `worker ${w.workerId} uses ${w.memoryMb} MB, over ROUTEMQ_MAX_MEMORY_MB=${limit}: draining and replacing it`,
      );
      this.emit('memory:exceeded', { workerId: w.workerId, memoryMb: w.memoryMb, limitMb: limit });
    }
  }

  /** Stop sampling. Memoised, synchronous. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#mainTimer);
    this.#mainTimer = undefined;
    this.#mainRuntime.stop();
    pidusage.clear();
  }
}
