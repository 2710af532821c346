import { ErrorCodes, RouteMQError } from '../errors.js';

/**
 * Settle like `promise`, or reject with `RMQ_ERR_TIMED_OUT` when it has not settled within `ms`.
 * The timer is cleared either way; `promise` itself is not cancelled.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RouteMQError(ErrorCodes.TIMED_OUT, `Timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
