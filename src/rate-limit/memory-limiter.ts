import { Fifo } from '../util/fifo.js';
import { ALLOWED, refused } from './limiter.js';
import type { LimitDecision, LimitSpec, Limiter } from './limiter.js';

interface Entry {
  /** fixed_window: the window's index; token_bucket: the time of the last refill. */
  mark: number;
  /** fixed_window: messages counted in the window; token_bucket: tokens × windowMs (integers, no float drift). */
  amount: number;
  /** sliding_window: times of the messages counted in the last window, oldest first. */
  times: Fifo<number>;
  lastUsed: number;
}

/**
 * The rate limits in this process's memory, with the same arithmetic as the Redis scripts. It is the fallback when
 * Redis is off or down, and it is **per process**: with N workers serving a route, the route as a whole allows up
 * to N × max. Idle keys are swept once per window.
 */
export class MemoryLimiter implements Limiter {
  readonly #spec: LimitSpec;
  readonly #entries = new Map<string, Entry>();
  #lastSweep = 0;

  constructor(spec: LimitSpec) {
    this.#spec = spec;
  }

  /** Keys held now (for tests and leak checks). */
  get size(): number {
    return this.#entries.size;
  }

  take(key: string, now: number): Promise<LimitDecision> {
    this.#sweep(now);
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { mark: Number.NaN, amount: 0, times: new Fifo<number>(), lastUsed: now };
      this.#entries.set(key, entry);
    }
    entry.lastUsed = now;
    return Promise.resolve(this.#take(entry, now));
  }

  #take(e: Entry, now: number): LimitDecision {
    const { strategy, max, windowMs, burst } = this.#spec;
    switch (strategy) {
      case 'fixed_window': {
        const window = Math.floor(now / windowMs);
        if (e.mark !== window) {
          e.mark = window;
          e.amount = 0;
        }
        if (e.amount >= max) return refused((window + 1) * windowMs - now);
        e.amount++;
        return ALLOWED;
      }
      case 'sliding_window': {
        // A message counts for windowMs after it was taken: at now = t + windowMs it no longer does.
        while (e.times.length > 0 && (e.times.peek() as number) <= now - windowMs) e.times.shift();
        if (e.times.length >= max) return refused((e.times.peek() as number) + windowMs - now);
        e.times.push(now);
        return ALLOWED;
      }
      case 'token_bucket': {
        // In units of 1/windowMs token: a message costs windowMs units, each ms refills `max` units.
        const capacity = burst * windowMs;
        const units = Number.isNaN(e.mark) ? capacity : Math.min(capacity, e.amount + Math.max(0, now - e.mark) * max);
        e.mark = Number.isNaN(e.mark) ? now : Math.max(e.mark, now);
        if (units < windowMs) {
          e.amount = units;
          return refused((windowMs - units) / max);
        }
        e.amount = units - windowMs;
        return ALLOWED;
      }
    }
  }

  #sweep(now: number): void {
    const { windowMs, burst, max, strategy } = this.#spec;
    if (now - this.#lastSweep < windowMs) return;
    this.#lastSweep = now;
    // An entry idle this long is as good as new: its window passed, or its bucket refilled.
    const idle = strategy === 'token_bucket' ? Math.ceil((burst * windowMs) / max) : windowMs;
    for (const [key, entry] of this.#entries) if (now - entry.lastUsed >= idle) this.#entries.delete(key);
  }
}
