/** Upper bounds (seconds) of the handler-duration buckets; the last, implicit bucket is +Inf. */
export const DURATION_BUCKETS_S: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** A histogram's plain data, as workers send it over IPC and metrics sum it. */
export interface HistogramData {
  /** Per bucket (not cumulative), one more entry than {@link DURATION_BUCKETS_S} for +Inf. */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** Handler durations of one route, in fixed buckets: O(buckets) per observation, no allocation. */
export class DurationHistogram {
  readonly counts: number[] = new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS_S.length && seconds > (DURATION_BUCKETS_S[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += seconds;
    this.count++;
  }

  data(): HistogramData {
    return { counts: [...this.counts], sum: this.sum, count: this.count };
  }
}

/** Add histograms bucket by bucket. */
export function mergeHistograms(parts: readonly HistogramData[]): HistogramData {
  const counts = new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0);
  let sum = 0;
  let count = 0;
  for (const part of parts) {
    part.counts.forEach((n, i) => (counts[i] = (counts[i] ?? 0) + n));
    sum += part.sum;
    count += part.count;
  }
  return { counts, sum, count };
}

/**
 * Estimate a quantile (0..1) in seconds by linear interpolation inside its bucket, as Prometheus's
 * `histogram_quantile` does. `undefined` without observations.
 */
export function histogramQuantile(data: HistogramData, q: number): number | undefined {
  if (data.count === 0) return undefined;
  const rank = q * data.count;
  let seen = 0;
  for (let i = 0; i < data.counts.length; i++) {
    const n = data.counts[i] ?? 0;
    if (seen + n >= rank && n > 0) {
      const lower = i === 0 ? 0 : (DURATION_BUCKETS_S[i - 1] as number);
      const upper = DURATION_BUCKETS_S[i] ?? lower;
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return DURATION_BUCKETS_S.at(-1);
}
