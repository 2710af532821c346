import type { PoolPlan } from './pools.js';
import type { WorkerProcess } from './worker-process.js';

/** Restart accounting of a pool. */
export interface RestartPolicy {
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
}

/** A worker that stayed ready this long is healthy again: its slot's crash backoff starts over. */
const HEALTHY_AFTER_MS = 10_000;

/**
 * The mutable state of one worker pool: its slots, the size it should have, and its restart history. Decisions
 * that need only this state live here, so the manager keeps the process handling.
 */
export class Pool {
  plan: PoolPlan;
  /** The number of slots the pool should have (slots 0..desired-1). */
  desired: number;
  readonly slots = new Map<number, WorkerProcess>();
  /** Slots whose client id another live client took over: not restarted until reload. */
  readonly conflicted = new Set<number>();
  /** How each slot's previous process ended. */
  readonly lastExits = new Map<number, { readonly code: number | null; readonly signal: string | null }>();
  /** Unexpected exits per slot, over the pool's life. */
  readonly slotRestarts = new Map<number, number>();
  readonly restartTimers = new Map<number, NodeJS.Timeout>();
  #restartTimes: number[] = [];
  readonly #crashStreak = new Map<number, number>();
  #totalRestarts = 0;
  degraded = false;
  recoveryTimer: NodeJS.Timeout | undefined;

  constructor(plan: PoolPlan, desired: number) {
    this.plan = plan;
    this.desired = desired;
  }

  get name(): string {
    return this.plan.name;
  }

  /** Unexpected exits so far, over the pool's whole life. */
  get totalRestarts(): number {
    return this.#totalRestarts;
  }

  /** Unexpected exits within the current window. */
  restartsInWindow(policy: RestartPolicy, now = Date.now()): number {
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < policy.restartWindowMs);
    return this.#restartTimes.length;
  }

  /**
   * Count an unexpected exit of `slot`. Returns `degraded` when the pool is past `maxRestarts` within the window
   * (restarts pause), else the slot's consecutive-crash count for the backoff.
   */
  recordCrash(
    slot: number,
    readyForMs: number,
    policy: RestartPolicy,
    now = Date.now(),
  ): { degraded: true } | { degraded: false; streak: number } {
    this.#totalRestarts++;
    this.slotRestarts.set(slot, (this.slotRestarts.get(slot) ?? 0) + 1);
    this.#restartTimes.push(now);
    const streak = readyForMs >= HEALTHY_AFTER_MS ? 1 : (this.#crashStreak.get(slot) ?? 0) + 1;
    this.#crashStreak.set(slot, streak);
    if (this.restartsInWindow(policy, now) > policy.maxRestarts) return { degraded: true };
    return { degraded: false, streak };
  }

  /** Milliseconds until the oldest restart leaves the window (when a degraded pool may resume). */
  msUntilWindowClears(policy: RestartPolicy, now = Date.now()): number {
    const oldest = this.#restartTimes[0];
    return oldest === undefined ? 0 : Math.max(0, oldest + policy.restartWindowMs - now);
  }

  /** Forget the restart history (on reload, or when the window cleared). */
  resetRestarts(): void {
    this.#restartTimes = [];
    this.#crashStreak.clear();
    this.degraded = false;
    this.conflicted.clear();
  }

  /** Worker processes that have not exited. */
  live(): WorkerProcess[] {
    return [...this.slots.values()].filter((w) => w.state !== 'dead');
  }

  /** Slots below `desired` with no process and no pending restart. */
  missingSlots(): number[] {
    const missing: number[] = [];
    for (let slot = 0; slot < this.desired; slot++) {
      if (!this.slots.has(slot) && !this.restartTimers.has(slot) && !this.conflicted.has(slot)) missing.push(slot);
    }
    return missing;
  }

  /** Cancel pending restarts and the recovery timer. */
  clearTimers(): void {
    for (const timer of this.restartTimers.values()) clearTimeout(timer);
    this.restartTimers.clear();
    clearTimeout(this.recoveryTimer);
    this.recoveryTimer = undefined;
  }
}
