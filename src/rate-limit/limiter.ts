/** How a rate limit counts. */
export type RateLimitStrategy = 'fixed_window' | 'sliding_window' | 'token_bucket';

/** What a limit allows. */
export interface LimitSpec {
  readonly strategy: RateLimitStrategy;
  /** Messages per window (token bucket: tokens added per window). */
  readonly max: number;
  readonly windowMs: number;
  /** Token bucket only: the bucket's size (the largest burst). @defaultValue max */
  readonly burst: number;
}

/** One try to take a message's place under the limit. */
export interface LimitDecision {
  readonly allowed: boolean;
  /** When not allowed: how long until a try can succeed (≥ 1 ms). */
  readonly retryAfterMs: number;
}

/**
 * A rate limiter: `take` counts one message for `key` at time `now` (ms) when the limit allows it, and says so.
 * A refused take counts nothing. Implementations: {@link MemoryLimiter} (one process) and `RedisLimiter` (atomic
 * Lua scripts, shared by every process and host).
 */
export interface Limiter {
  take(key: string, now: number): Promise<LimitDecision>;
}

/** A refusal, with its wait rounded up to at least 1 ms. */
export function refused(retryAfterMs: number): LimitDecision {
  return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) };
}

export const ALLOWED: LimitDecision = Object.freeze({ allowed: true, retryAfterMs: 0 });
