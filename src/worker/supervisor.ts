import type { PoolDegradedInfo } from '../events.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs } from '../util/backoff.js';
import type { Pool, RestartPolicy } from './pool.js';
import { isTakeoverExit } from './worker-process.js';
import type { WorkerExit } from './worker-process.js';

/** Options of {@link Supervisor}: the restart policy, and the few callbacks it needs from the pools' owner. */
export interface SupervisorOptions {
  /** More than `maxRestarts` unexpected exits within `restartWindowMs` degrade a pool. */
  readonly policy: RestartPolicy;
  /** Delay of a slot's first restart; it doubles (with jitter) for each consecutive crash. */
  readonly restartBaseMs: number;
  /** Upper bound of a restart delay, and the back-off after another client took a slot's client id. */
  readonly restartMaxMs: number;
  readonly logger: Logger;
  /** Whether the owner is starting or running: a degraded pool restarts its workers only then. */
  isActive(): boolean;
  /** Start a fresh worker in `slot`. The owner checks that the slot is still wanted and empty. */
  respawn(pool: Pool, slot: number): void;
  /** Called once when a pool enters the degraded state (the owner emits `pool.degraded`). */
  onDegraded(info: PoolDegradedInfo): void;
}

/**
 * Decides what follows a worker's unexpected exit: a restart after a backoff that grows with the slot's
 * consecutive crashes, a long back-off when another client took the slot's client id, or, past `maxRestarts`
 * within the window, a degraded pool that pauses restarts until the window clears. It keeps its timers in the
 * {@link Pool}, so `pool.clearTimers()` cancels them.
 */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #log: Logger;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#log = options.logger;
  }

  /** Handle an unexpected exit of the worker in `slot`, which is still below the pool's `desired` size. */
  onCrash(pool: Pool, slot: number, exit: WorkerExit): void {
    if (isTakeoverExit(exit)) {
      // Restarting at once would kick the other client and start a war; try again only much later.
      const retryMs = this.#o.restartMaxMs;
      pool.conflicted.add(slot);
      this.#log.error({ pool: pool.name, slot, retryMs }, "another client took this slot's client id; backing off");
      this.#restartLater(pool, slot, retryMs, () => pool.conflicted.delete(slot));
      return;
    }
    const outcome = pool.recordCrash(slot, exit.readyForMs, this.#o.policy);
    if (outcome.degraded) {
      this.#markDegraded(pool);
      return;
    }
    const delayMs = backoffDelayMs(outcome.streak - 1, { baseMs: this.#o.restartBaseMs, maxMs: this.#o.restartMaxMs });
    this.#restartLater(pool, slot, delayMs);
  }

  /** Cancel the pending restarts of the slots from `fromSlot` up (they leave the pool). */
  cancelRestarts(pool: Pool, fromSlot: number): void {
    for (const [slot, timer] of pool.restartTimers) {
      if (slot >= fromSlot) {
        clearTimeout(timer);
        pool.restartTimers.delete(slot);
      }
    }
  }

  #restartLater(pool: Pool, slot: number, delayMs: number, beforeRespawn?: () => void): void {
    pool.restartTimers.set(
      slot,
      setTimeout(() => {
        pool.restartTimers.delete(slot);
        beforeRespawn?.();
        this.#o.respawn(pool, slot);
      }, delayMs),
    );
  }

  #markDegraded(pool: Pool): void {
    const { policy } = this.#o;
    if (!pool.degraded) {
      pool.degraded = true;
      const restarts = pool.restartsInWindow(policy);
      this.#log.error({ pool: pool.name, restarts, windowMs: policy.restartWindowMs }, 'pool degraded: crash loop');
      this.#o.onDegraded({ pool: pool.name, restarts, windowMs: policy.restartWindowMs });
    }
    clearTimeout(pool.recoveryTimer);
    pool.recoveryTimer = setTimeout(() => {
      pool.recoveryTimer = undefined;
      if (!this.#o.isActive()) return;
      pool.resetRestarts();
      this.#log.info({ pool: pool.name }, "restart window cleared; restarting the pool's missing workers");
      for (const slot of pool.missingSlots()) this.#o.respawn(pool, slot);
    }, pool.msUntilWindowClears(policy));
  }
}
