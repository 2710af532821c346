import { ErrorCodes, RouteMQError } from '../errors.js';
import type { PoolPlan } from './pools.js';
import { NO_CRASHES, crashesInWindow, isCountedCrash } from './restart-policy.js';
import type { CrashDecision, CrashHistory, RestartPolicy } from './restart-policy.js';
import type { WorkerProcess, WorkerState } from './worker-process.js';

/** What a {@link Pool} needs to know of the worker in a slot. */
export interface SlotWorker {
  /** `<pool>-<slot>` */
  readonly id: string;
  readonly state: WorkerState;
}

/** How a slot's previous process ended. */
export interface SlotExitStatus {
  readonly code: number | null;
  readonly signal: string | null;
}

/**
 * The state of one worker pool, behind methods that keep it consistent: the size it should have, the worker in
 * each slot, the empty slots waiting for a scheduled restart, and the crash history and counters. It decides
 * nothing and starts nothing: {@link decideAfterCrash} decides, the supervisor keeps the timers and the manager
 * the processes.
 *
 * Invariants: `desired` is an integer ≥ 1; a slot holds at most one worker; a slot is never both filled and
 * waiting for a restart; the crash counters only grow.
 */
export class Pool<W extends SlotWorker = WorkerProcess> {
  readonly #plan: PoolPlan;
  #desired: number;
  readonly #slots = new Map<number, W>();
  /** Empty slots whose restart is scheduled: not missing, so nothing else fills them meanwhile. */
  readonly #pending = new Set<number>();
  readonly #lastExits = new Map<number, SlotExitStatus>();
  readonly #slotCrashes = new Map<number, number>();
  #totalCrashes = 0;
  #history: CrashHistory = NO_CRASHES;
  readonly #maxSize: number;

  /**
   * `maxSize` is the most slots the pool may have (`WORKER_MAX_COUNT`); it bounds `desired` and every
   * {@link Pool.resize}. @defaultValue no bound
   *
   * @throws RouteMQError `RMQ_ERR_ROUTE_OPTION_INVALID` when `desired` is not an integer from 1 to `maxSize`.
   */
  constructor(plan: PoolPlan, desired: number = plan.size, maxSize = Number.POSITIVE_INFINITY) {
    this.#plan = plan;
    this.#maxSize = maxSize;
    this.#assertSize(desired);
    this.#desired = desired;
  }

  #assertSize(n: number): void {
    assertWorkerCount(n);
    if (n > this.#maxSize) {
      throw new RouteMQError(
        ErrorCodes.ROUTE_OPTION_INVALID,
        `Pool ${this.#plan.name} (${this.#plan.routes.map((r) => r.pattern).join(', ')}): ${n} workers is over ` +
          `WORKER_MAX_COUNT (${this.#maxSize}), the most a pool may have; raise WORKER_MAX_COUNT (up to 1000) to run more`,
      );
    }
  }

  get name(): string {
    return this.#plan.name;
  }

  get plan(): PoolPlan {
    return this.#plan;
  }

  /** The number of slots the pool should have (slots 0..desired-1). */
  get desired(): number {
    return this.#desired;
  }

  /**
   * Set the size the pool should have; returns the previous one. Slots at or above it leave the pool: their
   * workers are the caller's to stop (see {@link Pool.leaving}).
   *
   * @throws RouteMQError `RMQ_ERR_ROUTE_OPTION_INVALID` when `n` is not an integer from 1 to the pool's `maxSize`.
   */
  resize(n: number): number {
    this.#assertSize(n);
    const from = this.#desired;
    this.#desired = n;
    return from;
  }

  /** The worker in `slot`, if any. */
  worker(slot: number): W | undefined {
    return this.#slots.get(slot);
  }

  /** Every slot that holds a worker, with it, in the order they were filled. */
  workers(): [slot: number, worker: W][] {
    return [...this.#slots];
  }

  /** Worker processes that have not exited. */
  live(): W[] {
    return [...this.#slots.values()].filter((w) => w.state !== 'dead');
  }

  /** The slot and worker whose id is `workerId`, if it is in this pool. */
  find(workerId: string): { readonly slot: number; readonly worker: W } | undefined {
    for (const [slot, worker] of this.#slots) if (worker.id === workerId) return { slot, worker };
    return undefined;
  }

  /** The workers in slots at or above `fromSlot` (those that leave when the pool shrinks to `fromSlot`). */
  leaving(fromSlot: number): W[] {
    return [...this.#slots].filter(([slot]) => slot >= fromSlot).map(([, w]) => w);
  }

  /** The lowest slot above `desired` and above every filled slot: where a rolling reload's extra worker goes. */
  surgeSlot(): number {
    return Math.max(this.#desired, ...[...this.#slots.keys()].map((s) => s + 1));
  }

  /** Slots below `desired` with no worker and no pending restart. */
  missingSlots(): number[] {
    const missing: number[] = [];
    for (let slot = 0; slot < this.#desired; slot++) {
      if (!this.#slots.has(slot) && !this.#pending.has(slot)) missing.push(slot);
    }
    return missing;
  }

  /** Put `worker` in `slot`; a restart pending for the slot is no longer pending. */
  attach(slot: number, worker: W): void {
    this.#pending.delete(slot);
    this.#slots.set(slot, worker);
  }

  /**
   * Note that `worker` ended with `exit`, and empty its slot if it still holds that worker (a newer one may
   * already be there). Returns whether it did.
   */
  detach(slot: number, worker: W, exit: SlotExitStatus): boolean {
    this.#lastExits.set(slot, { code: exit.code, signal: exit.signal });
    if (this.#slots.get(slot) !== worker) return false;
    this.#slots.delete(slot);
    return true;
  }

  /** How the previous process of `slot` ended, if one did. */
  lastExit(slot: number): SlotExitStatus | undefined {
    return this.#lastExits.get(slot);
  }

  /** Mark the empty `slot` as waiting for a scheduled restart, so it is not {@link Pool.missingSlots missing}. */
  holdForRestart(slot: number): void {
    if (!this.#slots.has(slot)) this.#pending.add(slot);
  }

  /** The restart scheduled for `slot` ran or was cancelled. */
  release(slot: number): void {
    this.#pending.delete(slot);
  }

  /** Slots that wait for a scheduled restart, in ascending order. */
  pendingSlots(): number[] {
    return [...this.#pending].sort((a, b) => a - b);
  }

  /** The crash history {@link decideAfterCrash} reads. */
  get history(): CrashHistory {
    return this.#history;
  }

  /** Restarts pause until the window clears. */
  get degraded(): boolean {
    return this.#history.degraded;
  }

  /** Take a decision about a worker's end in `slot`: keep its history, and count it if it is a crash. */
  recordCrash(slot: number, decision: CrashDecision): void {
    this.#history = decision.history;
    if (!isCountedCrash(decision)) return;
    this.#totalCrashes++;
    this.#slotCrashes.set(slot, (this.#slotCrashes.get(slot) ?? 0) + 1);
  }

  /** Forget the crash history (on reload, or when the window cleared); the lifetime counters stay. */
  forgetCrashes(): void {
    this.#history = NO_CRASHES;
  }

  /** Counted crashes (each followed by a restart or a pause), over the pool's whole life. */
  get totalRestarts(): number {
    return this.#totalCrashes;
  }

  /** Counted crashes of `slot`, over the pool's life. */
  restartsOf(slot: number): number {
    return this.#slotCrashes.get(slot) ?? 0;
  }

  /** Counted crashes within the window that ends at `now`. */
  restartsInWindow(policy: Pick<RestartPolicy, 'restartWindowMs'>, now = Date.now()): number {
    return crashesInWindow(this.#history, policy, now);
  }
}

/**
 * Check a worker count.
 *
 * @throws RouteMQError `RMQ_ERR_ROUTE_OPTION_INVALID` when `n` is not an integer ≥ 1.
 */
export function assertWorkerCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RouteMQError(ErrorCodes.ROUTE_OPTION_INVALID, `A worker count must be an integer ≥ 1, got ${String(n)}`);
  }
}
