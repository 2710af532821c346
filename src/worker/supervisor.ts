import type { PoolDegradedInfo } from '../events.js';
import type { Logger } from '../logger.js';
import type { Pool, SlotWorker } from './pool.js';
import { decideAfterCrash } from './restart-policy.js';
import type { CrashDecision, RestartPolicy } from './restart-policy.js';
import { exitCause } from './worker-exit.js';
import type { WorkerExit } from './worker-exit.js';
import type { WorkerProcess } from './worker-process.js';

/** Options of {@link Supervisor}: the restart policy, and the few callbacks it needs from the pools' owner. */
export interface SupervisorOptions<W extends SlotWorker = WorkerProcess> {
  readonly policy: RestartPolicy;
  readonly logger: Logger;
  /** Whether the owner is starting or running: a degraded pool restarts its workers only then. */
  isActive(): boolean;
  /** Start a fresh worker in `slot`. The owner checks that the slot is still wanted and empty. */
  respawn(pool: Pool<W>, slot: number): void;
  /** Called once when a pool enters the degraded state (the owner emits `pool.degraded`). */
  onDegraded(info: PoolDegradedInfo): void;
  /** @defaultValue Date.now */
  readonly now?: () => number;
  /** Jitter of the restart delays, in [0, 1). @defaultValue Math.random */
  readonly random?: () => number;
}

/**
 * Carries out what {@link decideAfterCrash} decides about a worker's end: it keeps the timers (a slot's delayed
 * restart, a degraded pool's resume once its window clears), logs, and calls back the owner to respawn. The
 * decision and the pool's state are not here: they are {@link decideAfterCrash}'s and the {@link Pool}'s.
 */
export class Supervisor<W extends SlotWorker = WorkerProcess> {
  readonly #o: SupervisorOptions<W>;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #restarts = new Map<Pool<W>, Map<number, NodeJS.Timeout>>();
  readonly #resumes = new Map<Pool<W>, NodeJS.Timeout>();

  constructor(options: SupervisorOptions<W>) {
    this.#o = options;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Handle the end of the worker that was in `slot` (the pool no longer holds it). An unexpected end is logged,
   * counted in the pool, and followed by a delayed restart or a pause. Returns the decision.
   */
  onExit(pool: Pool<W>, slot: number, exit: WorkerExit, workerPid?: number): CrashDecision {
    const ended = { slot, desired: pool.desired, at: this.#now(), exit };
    const decision = decideAfterCrash(pool.history, ended, this.#o.policy, this.#o.random);
    if (decision.action === 'none') return decision;
    const cause = exitCause(exit);
    this.#log.warn(
      { pool: pool.name, slot, workerPid, code: exit.code, signal: exit.signal, failure: exit.failure, cause },
      'worker exited unexpectedly',
    );
    pool.recordCrash(slot, decision);
    switch (decision.action) {
      case 'back-off':
        this.#log.error(
          { pool: pool.name, slot, retryMs: decision.delayMs },
          "another client took this slot's client id; backing off",
        );
        this.#restartLater(pool, slot, decision.delayMs);
        break;
      case 'restart':
        this.#restartLater(pool, slot, decision.delayMs);
        break;
      case 'degrade':
        this.#pause(pool, decision.restarts, decision.resumeInMs, decision.entered);
        break;
    }
    return decision;
  }

  /** Cancel the pending restarts of the slots from `fromSlot` up (they leave the pool). */
  cancelRestarts(pool: Pool<W>, fromSlot: number): void {
    const timers = this.#restarts.get(pool);
    for (const [slot, timer] of timers ?? []) {
      if (slot < fromSlot) continue;
      clearTimeout(timer);
      timers?.delete(slot);
      pool.release(slot);
    }
  }

  /** Cancel every pending restart of `pool`, and its resume. */
  cancelAll(pool: Pool<W>): void {
    this.cancelRestarts(pool, 0);
    clearTimeout(this.#resumes.get(pool));
    this.#resumes.delete(pool);
  }

  #restartLater(pool: Pool<W>, slot: number, delayMs: number): void {
    const timers = this.#restarts.get(pool) ?? new Map<number, NodeJS.Timeout>();
    this.#restarts.set(pool, timers);
    clearTimeout(timers.get(slot));
    pool.holdForRestart(slot);
    timers.set(
      slot,
      setTimeout(() => {
        timers.delete(slot);
        pool.release(slot);
        this.#o.respawn(pool, slot);
      }, delayMs),
    );
  }

  #pause(pool: Pool<W>, restarts: number, resumeInMs: number, entered: boolean): void {
    const windowMs = this.#o.policy.restartWindowMs;
    if (entered) {
      this.#log.error({ pool: pool.name, restarts, windowMs }, 'pool degraded: crash loop');
      this.#o.onDegraded({ pool: pool.name, restarts, windowMs });
    }
    clearTimeout(this.#resumes.get(pool));
    this.#resumes.set(
      pool,
      setTimeout(() => {
        this.#resumes.delete(pool);
        if (!this.#o.isActive()) return;
        pool.forgetCrashes();
        this.#log.info({ pool: pool.name }, "restart window cleared; restarting the pool's missing workers");
        for (const slot of pool.missingSlots()) this.#o.respawn(pool, slot);
      }, resumeInMs),
    );
  }
}
