/** Options of {@link backoffDelayMs}. */
export interface BackoffOptions {
  /** Delay of the first retry. */
  readonly baseMs: number;
  /** Upper bound of any delay. */
  readonly maxMs: number;
  /** Random source in [0, 1); injectable for tests. @defaultValue Math.random */
  readonly random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": half of the exponential delay is fixed, the other half random, so
 * clients that failed together do not retry together, and no delay is ever near zero.
 *
 * @param attempt - 0 for the first retry.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  const random = options.random ?? Math.random;
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** A promise that resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
