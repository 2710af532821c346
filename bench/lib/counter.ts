import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What one counting process reports (a JSON file it rewrites every 50 ms and at exit). */
export interface CounterReport {
  readonly pid: number;
  readonly count: number;
  /** `performance.timeOrigin + performance.now()` of the first and last message. */
  readonly firstAt: number;
  readonly lastAt: number;
  /** Publish→handler latencies in ms (a uniform sample of at most 20k). */
  readonly latencies: number[];
}

const MAX_SAMPLES = 20_000;

/**
 * Counts messages in a benchmark process (baseline subscriber or RouteMQ handler alike) and writes the count to
 * `<dir>/<name>-<pid>.json` from a timer, so counting costs one increment per message and no I/O.
 */
export function createCounter(dir: string, name: string): { hit(sentAt?: number): void } {
  let count = 0;
  let firstAt = 0;
  let lastAt = 0;
  const latencies: number[] = [];
  const file = join(dir, `${name}-${process.pid}.json`);
  const flush = (): void => {
    const report: CounterReport = { pid: process.pid, count, firstAt, lastAt, latencies };
    writeFileSync(file, JSON.stringify(report));
  };
  setInterval(flush, 50).unref();
  process.once('exit', flush);
  flush();
  return {
    hit(sentAt?: number) {
      const now = performance.timeOrigin + performance.now();
      if (count === 0) firstAt = now;
      lastAt = now;
      count++;
      if (sentAt !== undefined) {
        if (latencies.length < MAX_SAMPLES) latencies.push(now - sentAt);
        else latencies[Math.floor(Math.random() * count) % MAX_SAMPLES] = now - sentAt;
      }
    },
  };
}
