import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/logger.js';
import { loadRouteFiles } from '../../src/router/discovery.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { WorkerManager } from '../../src/worker/worker-manager.js';
import {
  cpuTimeUs,
  memoryOf,
  readCounters,
  runPublisher,
  startBaseline,
  startFloor,
  startRouteMQ,
  waitForCount,
} from './sides.js';
import type { Side, SideOptions } from './sides.js';
import { median, percentile } from './stats.js';

/** One side's figures in one run. */
export interface SideResult {
  readonly count: number;
  /** Messages per second from the first publish to the last handled message. */
  readonly rate: number;
  readonly peakMb: number;
  readonly idleMb: number;
  /**
   * CPU (user + system) the counting processes spent from just before the first publish until the last message
   * was counted, in µs per message counted. For RouteMQ the workers only: the main process serves no message.
   */
  readonly cpuUsPerMsg: number;
  readonly latencies: number[];
}

/** The sides of one run, and the ratios. */
export interface ThroughputResult {
  readonly baseline: SideResult;
  /** The floor side (RouteMQ's delivery semantics in plain MQTT.js), when the run included it. */
  readonly floor: SideResult | undefined;
  readonly ours: SideResult;
  /** Throughput, RouteMQ ÷ baseline. */
  readonly ratio: number;
  /** Throughput, RouteMQ ÷ floor. */
  readonly floorRatio: number | undefined;
  /** CPU per message, RouteMQ ÷ baseline. */
  readonly cpuRatio: number;
  /** CPU per message, RouteMQ ÷ floor. */
  readonly floorCpuRatio: number | undefined;
  readonly memoryRatio: number;
}

export async function runSide(
  start: (o: SideOptions) => Promise<Side>,
  options: SideOptions,
  n: number,
  rate = 0,
): Promise<SideResult> {
  const side = await start(options);
  try {
    const pids = side.pids();
    const idleMb = median(pids.map((pid) => memoryOf(pid).rssMb));
    const cpu = (): number => pids.reduce((sum, pid) => sum + cpuTimeUs(pid), 0);
    const cpuBefore = cpu();
    let cpuAfter = cpuBefore;
    const published = await runPublisher(options.url, n, options.qos, rate);
    const counts = await waitForCount(side.dir, n, undefined, () => (cpuAfter = cpu()));
    const peakMb = median(pids.map((pid) => memoryOf(pid).peakMb));
    return {
      count: counts.count,
      rate: counts.count / ((counts.lastAt - published.startedAt) / 1000),
      peakMb,
      idleMb,
      cpuUsPerMsg: (cpuAfter - cpuBefore) / Math.max(1, counts.count),
      latencies: counts.latencies,
    };
  } finally {
    await side.stop();
  }
}

/**
 * The baseline, the floor (with `floor`) and RouteMQ, one after the other on the same workload. `rep` rotates the
 * order (repetition 0: baseline, floor, RouteMQ; 1: floor, RouteMQ, baseline; …), so no side always runs first,
 * right after a broker start or another cell.
 */
export async function measureThroughput(
  url: string,
  cell: { w: number; qos: 0 | 1; n: number; ioMs?: number; env?: Record<string, string>; floor?: boolean },
  rep = 0,
): Promise<ThroughputResult> {
  const options: SideOptions = {
    url,
    workers: cell.w,
    qos: cell.qos,
    ...(cell.ioMs !== undefined ? { ioMs: cell.ioMs } : {}),
    ...(cell.env ? { env: cell.env } : {}),
  };
  const starts = cell.floor ? [startBaseline, startFloor, startRouteMQ] : [startBaseline, startRouteMQ];
  const results = new Map<(o: SideOptions) => Promise<Side>, SideResult>();
  for (let k = 0; k < starts.length; k++) {
    const start = starts[(k + rep) % starts.length] as (o: SideOptions) => Promise<Side>;
    results.set(start, await runSide(start, options, cell.n));
  }
  const baseline = results.get(startBaseline) as SideResult;
  const floor = results.get(startFloor);
  const ours = results.get(startRouteMQ) as SideResult;
  return {
    baseline,
    floor,
    ours,
    ratio: ours.rate / baseline.rate,
    floorRatio: floor ? ours.rate / floor.rate : undefined,
    cpuRatio: ours.cpuUsPerMsg / baseline.cpuUsPerMsg,
    floorCpuRatio: floor ? ours.cpuUsPerMsg / floor.cpuUsPerMsg : undefined,
    memoryRatio: ours.peakMb / baseline.peakMb,
  };
}

/**
 * Publish→handler latency at a fixed rate (W=2, QoS1), 5 s of traffic per run, `reps` runs per side interleaved
 * (baseline, RouteMQ, baseline, …); percentiles over all the samples of a side pooled, so one noisy minute on this
 * shared machine weighs as much as it lasted, not more and not less.
 */
export async function measureLatency(
  url: string,
  rate: number,
  reps = 1,
): Promise<{
  rate: number;
  runs: number;
  baseline: { p50: number; p95: number; p99: number };
  ours: { p50: number; p95: number; p99: number };
}> {
  const n = rate * 5;
  const options: SideOptions = { url, workers: 2, qos: 1 };
  const pct = (l: number[]): { p50: number; p95: number; p99: number } => ({
    p50: percentile(l, 50),
    p95: percentile(l, 95),
    p99: percentile(l, 99),
  });
  const baseline: number[] = [];
  const ours: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    baseline.push(...(await runSide(startBaseline, options, n, rate)).latencies);
    ours.push(...(await runSide(startRouteMQ, options, n, rate)).latencies);
  }
  return { rate, runs: reps, baseline: pct(baseline), ours: pct(ours) };
}

/** I/O-bound handlers (5 ms) with one worker SIGKILLed mid-run: every id must still be handled. */
export async function measureIoKill(url: string, n: number): Promise<{ lost: number; duplicated: number }> {
  const record = mkdtempSync(join(tmpdir(), 'routemq-bench-ids-'));
  const side = await startRouteMQ({
    url,
    workers: 2,
    qos: 1,
    ioMs: 5,
    // The other sides expire their sessions after 1 s so that finished runs leave nothing subscribed. Here the
    // killed slot's session must outlive the restart of its worker, or the broker discards what it queued for it
    // (seen: a restart slower than 1 s on a loaded machine "lost" the slot's share). Nothing publishes after this run.
    env: { BENCH_CONCURRENCY: '256', BENCH_RECORD_DIR: record, MQTT_SESSION_EXPIRY_S: '300' },
  });
  try {
    const publishing = runPublisher(url, n, 1, 4000);
    while (readCounters(side.dir).count < n * 0.3) await new Promise((r) => setTimeout(r, 20));
    const victim = side.pids()[0];
    if (victim) process.kill(victim, 'SIGKILL');
    await publishing;
    const ids = (): string[] =>
      readdirSync(record).flatMap((f) => readFileSync(join(record, f), 'utf8').split('\n').filter(Boolean));
    // Wait while handling goes on: the replacement worker starts and works through its slot's backlog at the
    // handler's pace, which on a loaded machine takes longer than any fixed deadline. Give up only after 30 s
    // without one more id (a real loss never comes back).
    let seen = new Set(ids()).size;
    let progressAt = Date.now();
    while (seen < n && Date.now() - progressAt < 30_000) {
      await new Promise((r) => setTimeout(r, 100));
      const now = new Set(ids()).size;
      if (now > seen) [seen, progressAt] = [now, Date.now()];
    }
    const all = ids();
    const distinct = new Set(all).size;
    return { lost: n - distinct, duplicated: all.length - distinct };
  } finally {
    await side.stop();
    rmSync(record, { recursive: true, force: true });
  }
}

/** Time from `startWorkers()` to 4 workers subscribed, and a rolling reload of those 4. */
export async function measureStartup(url: string): Promise<{ startMs: number; reloadMs: number }> {
  const routers = fileURLToPath(new URL('../app/routers', import.meta.url));
  const { hostname, port } = new URL(url);
  const env = {
    MQTT_BROKER: hostname,
    MQTT_PORT: port,
    MQTT_CLIENT_ID: `benchstart${process.pid}`,
    MQTT_GROUP_NAME: `bench-start-${process.pid}`,
    MQTT_SESSION_EXPIRY_S: '60',
    ROUTEMQ_ROUTERS_DIR: routers,
    LOG_LEVEL: 'warn',
    BENCH_W: '4',
    BENCH_QOS: '1',
  };
  Object.assign(process.env, { BENCH_W: '4' });
  const config = loadConfig({ env, envFile: false });
  const table = compileRoutes(await loadRouteFiles(routers), { defaultGroup: config.mqtt.groupName });
  const manager = new WorkerManager({ config, table, logger: silentLogger(), env: { ...process.env, ...env } });
  try {
    const t0 = performance.now();
    await manager.startWorkers();
    const startMs = performance.now() - t0;
    const t1 = performance.now();
    await manager.reload();
    return { startMs, reloadMs: performance.now() - t1 };
  } finally {
    await manager.stopWorkers();
  }
}
