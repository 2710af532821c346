import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids } from '../../test/helpers/load.js';
import type { CounterReport } from './counter.mjs';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const BIN = here('../../bin/routemq.js');
const ROUTERS = here('../app/routers');

/** One side of a run: the processes that count, and how to stop them. */
export interface Side {
  readonly kind: SideKind;
  /** Directory the counters write to. */
  readonly dir: string;
  /** The counting processes (workers for RouteMQ). */
  readonly pids: () => number[];
  stop(): Promise<void>;
}

/**
 * Which subscriber side: `baseline` is raw MQTT.js acking on arrival (bench/baseline-subscriber.mjs), `floor` is
 * MQTT.js with RouteMQ's delivery semantics and nothing else (bench/floor-subscriber.mjs), `routemq` is
 * `routemq start`.
 */
export type SideKind = 'baseline' | 'floor' | 'routemq';

/** Options shared by every side. */
export interface SideOptions {
  readonly url: string;
  readonly workers: number;
  readonly qos: 0 | 1;
  readonly ioMs?: number;
  /** Extra env for the RouteMQ app (middleware count, schema, concurrency…). */
  readonly env?: Record<string, string>;
  /** Node flags for the RouteMQ processes (workers inherit them), e.g. `--cpu-prof` to profile. */
  readonly nodeArgs?: readonly string[];
}

let runId = 0;

function counterDir(): string {
  return mkdtempSync(join(tmpdir(), 'routemq-bench-count-'));
}

/** W plain MQTT.js subscribers on one share group, each acking on arrival. */
export function startBaseline(options: SideOptions): Promise<Side> {
  return startPlain('baseline', options);
}

/** W plain MQTT.js subscribers with persistent v5 sessions, each acking from done() after parsing. */
export function startFloor(options: SideOptions): Promise<Side> {
  return startPlain('floor', options);
}

async function startPlain(kind: 'baseline' | 'floor', options: SideOptions): Promise<Side> {
  const dir = counterDir();
  const id = `${process.pid}-${++runId}`;
  const group = `bench-${kind}-${id}`;
  const children: ChildProcess[] = [];
  await Promise.all(
    Array.from({ length: options.workers }, (_, slot) => {
      const child = fork(here(`../${kind}-subscriber.mjs`), [], {
        execArgv: [],
        env: {
          ...process.env,
          BENCH_DIR: dir,
          BENCH_URL: options.url,
          BENCH_GROUP: group,
          BENCH_CLIENT_ID: `bench-${kind}-${id}-${slot}`,
          BENCH_QOS: String(options.qos),
          BENCH_IO_MS: String(options.ioMs ?? 0),
        },
      });
      children.push(child);
      return new Promise<void>((resolve) => child.once('message', () => resolve()));
    }),
  );
  return {
    kind,
    dir,
    pids: () => children.map((c) => c.pid ?? 0),
    async stop() {
      await Promise.all(
        children.map((c) => {
          const exited = new Promise((r) => c.once('exit', r));
          c.send('stop');
          setTimeout(() => c.kill('SIGKILL'), 3000).unref();
          return exited;
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real RouteMQ app (`routemq start`) whose shared bench route runs in W workers, acking after the handler. */
export async function startRouteMQ(options: SideOptions): Promise<Side> {
  const dir = counterDir();
  const url = new URL(options.url);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, 'start'], {
    env: {
      ...process.env,
      MQTT_BROKER: url.hostname,
      MQTT_PORT: url.port,
      MQTT_CLIENT_ID: `bench${process.pid}r${++runId}`,
      MQTT_GROUP_NAME: `bench-ours-${process.pid}-${runId}`,
      // Sessions of finished runs must not linger: each would keep a subscription on bench/+ and make the broker
      // queue a copy of every later message (that distorted whole runs before this was 1).
      MQTT_SESSION_EXPIRY_S: '1',
      ROUTEMQ_ROUTERS_DIR: ROUTERS,
      ROUTEMQ_CONTROL_SOCKET: 'none',
      LOG_LEVEL: 'info',
      LOG_PRETTY: 'false',
      BENCH_DIR: dir,
      BENCH_W: String(options.workers),
      BENCH_QOS: String(options.qos),
      BENCH_IO_MS: String(options.ioMs ?? 0),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes('"RouteMQ is serving"')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`routemq start exited with ${String(code)}:\n${out.slice(-2000)}`)));
  });
  return {
    kind: 'routemq',
    dir,
    pids: () => childPids('worker-entry', child.pid),
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Publish N messages (as fast as possible, or at `rate`/s) and resolve with the publish start time. */
export function runPublisher(
  url: string,
  n: number,
  qos: 0 | 1,
  rate = 0,
): Promise<{ startedAt: number; finishedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(here('../publisher.mjs'), [], {
      execArgv: [],
      env: { ...process.env, BENCH_URL: url, BENCH_N: String(n), BENCH_QOS: String(qos), BENCH_RATE: String(rate) },
    });
    child.once('message', (m) => resolve(m as { startedAt: number; finishedAt: number }));
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`publisher exited with ${String(code)}`));
    });
  });
}

/** Sum the counters in `dir`. */
export function readCounters(dir: string): { count: number; firstAt: number; lastAt: number; latencies: number[] } {
  let count = 0;
  let firstAt = Infinity;
  let lastAt = 0;
  const latencies: number[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json')) continue;
    let report: CounterReport;
    try {
      report = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CounterReport;
    } catch {
      continue; // being rewritten
    }
    count += report.count;
    if (report.count > 0) firstAt = Math.min(firstAt, report.firstAt);
    lastAt = Math.max(lastAt, report.lastAt);
    latencies.push(...report.latencies);
  }
  return { count, firstAt, lastAt, latencies };
}

/**
 * Wait until the counters reach `n`, or stop moving for `quietMs`. `onEnd` runs the moment either happens, before
 * the extra flushes this waits for (so a CPU reading taken there covers the run and not the wait).
 */
export async function waitForCount(
  dir: string,
  n: number,
  quietMs = 3000,
  onEnd?: () => void,
): Promise<ReturnType<typeof readCounters>> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const now = readCounters(dir);
    if (now.count >= n) {
      onEnd?.();
      // More flushes: the exact last timestamp, then the latency sample (written once the count is quiet).
      const deadline = Date.now() + 2000;
      let final = now;
      do {
        await new Promise((r) => setTimeout(r, 60));
        final = readCounters(dir);
      } while (final.latencies.length < Math.min(final.count, 1000) && Date.now() < deadline);
      return final;
    }
    if (now.count !== last) {
      last = now.count;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) {
      onEnd?.();
      return now;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Peak and current RSS of a process in MB, from /proc (VmHWM, VmRSS). */
export function memoryOf(pid: number): { peakMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: Linux reports utime and stime in 1/100 s on every common architecture

/**
 * CPU time (user + system) a process has used so far, in µs, from /proc/<pid>/stat (utime and stime, fields 14
 * and 15). Resolution 10 ms; 0 for a process that is gone.
 */
export function cpuTimeUs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS_PER_S;
}
