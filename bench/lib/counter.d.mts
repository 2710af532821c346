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

/** Count messages; `sentAt` (epoch ms) records a latency sample. */
export function createCounter(dir: string, name: string): { hit(sentAt?: number): void };
