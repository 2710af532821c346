import { backoffDelayMs } from '../util/backoff.js';
import { isTakeoverExit } from './worker-exit.js';
import type { WorkerExit } from './worker-exit.js';

/** How a pool restarts its crashed workers. */
export interface RestartPolicy {
  /** More than this many counted crashes within `restartWindowMs` degrade the pool. */
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  /** Delay of a slot's first restart; it doubles (with jitter) for each crash in a row. */
  readonly restartBaseMs: number;
  /** Upper bound of a restart delay, and the back-off after another client took a slot's client id. */
  readonly restartMaxMs: number;
  /** A worker that stayed ready this long ran healthy: its slot's crash streak starts over. */
  readonly healthyAfterMs: number;
}

/** The default of {@link RestartPolicy.healthyAfterMs}. */
export const HEALTHY_AFTER_MS = 10_000;

/**
 * What the supervisor remembers of a pool's crashes: a value, so {@link decideAfterCrash} returns the next one
 * instead of changing it. Reload and a cleared window start over from {@link NO_CRASHES}.
 */
export interface CrashHistory {
  /** When the pool's counted crashes happened, oldest first; those older than the window are dropped. */
  readonly crashTimes: readonly number[];
  /** Per slot: its crashes in a row since it last ran healthy. */
  readonly streaks: ReadonlyMap<number, number>;
  /** Past `maxRestarts` within the window: restarts pause until the window clears. */
  readonly degraded: boolean;
}

/** A pool that has not crashed (or whose history was forgotten). */
export const NO_CRASHES: CrashHistory = Object.freeze({
  crashTimes: Object.freeze([]),
  streaks: new Map<number, number>(),
  degraded: false,
});

/** One worker's end, as the decision sees it. */
export interface SlotExit {
  readonly slot: number;
  /** The pool's desired size when it ended: a slot at or above it has left the pool. */
  readonly desired: number;
  /** When it ended (`Date.now()`). */
  readonly at: number;
  /** How it ended: requested or not, code and signal, whether and how long it was ready, what it held. */
  readonly exit: WorkerExit;
}

/** What follows a worker's end. `history` is the pool's next crash history. */
export type CrashDecision =
  /** Not a crash: the parent asked it to stop, or its slot left the pool. Nothing to restart, nothing counted. */
  | { readonly action: 'none'; readonly reason: 'requested' | 'left-pool'; readonly history: CrashHistory }
  /**
   * Another client took the slot's client id: restarting at once would kick it and start a war, so the slot waits
   * `delayMs` (the longest back-off). Not counted as a crash.
   */
  | { readonly action: 'back-off'; readonly delayMs: number; readonly history: CrashHistory }
  /** A counted crash: start the slot again after `delayMs`; `streak` is its crashes in a row, this one included. */
  | { readonly action: 'restart'; readonly delayMs: number; readonly streak: number; readonly history: CrashHistory }
  /**
   * A counted crash past `maxRestarts` within the window: the pool is degraded and its restarts pause until the
   * window clears, `resumeInMs` from now. `entered` is true for the crash that degraded it.
   */
  | {
      readonly action: 'degrade';
      readonly restarts: number;
      readonly resumeInMs: number;
      readonly entered: boolean;
      readonly history: CrashHistory;
    };

/** True for the decisions that count as a crash of the slot (restart and degrade). */
export function isCountedCrash(decision: CrashDecision): boolean {
  return decision.action === 'restart' || decision.action === 'degrade';
}

/**
 * The supervisor's pure policy: (the pool's crash history, how a worker ended, the policy) → what to do. A
 * requested exit or a slot above `desired` is no crash. A session takeover backs off for `restartMaxMs` without
 * counting. Any other exit is a counted crash: the slot restarts after an exponential backoff with jitter over its
 * crashes in a row (reset once it ran `healthyAfterMs`), unless the pool now has more than `maxRestarts` crashes
 * within `restartWindowMs`, which degrades it until the oldest leaves the window.
 *
 * @param random - jitter source in [0, 1). @defaultValue Math.random
 */
export function decideAfterCrash(
  history: CrashHistory,
  ended: SlotExit,
  policy: RestartPolicy,
  random: () => number = Math.random,
): CrashDecision {
  const { slot, at, exit } = ended;
  if (exit.requested) return { action: 'none', reason: 'requested', history };
  if (slot >= ended.desired) return { action: 'none', reason: 'left-pool', history };
  if (isTakeoverExit(exit)) return { action: 'back-off', delayMs: policy.restartMaxMs, history };

  const crashTimes = [...history.crashTimes, at].filter((t) => at - t < policy.restartWindowMs);
  const streak = exit.readyForMs >= policy.healthyAfterMs ? 1 : (history.streaks.get(slot) ?? 0) + 1;
  const streaks = new Map(history.streaks).set(slot, streak);
  if (crashTimes.length > policy.maxRestarts) {
    const oldest = crashTimes[0] ?? at;
    return {
      action: 'degrade',
      restarts: crashTimes.length,
      resumeInMs: Math.max(0, oldest + policy.restartWindowMs - at),
      entered: !history.degraded,
      history: { crashTimes, streaks, degraded: true },
    };
  }
  const delayMs = backoffDelayMs(streak - 1, {
    baseMs: policy.restartBaseMs,
    maxMs: policy.restartMaxMs,
    random,
  });
  return { action: 'restart', delayMs, streak, history: { crashTimes, streaks, degraded: history.degraded } };
}

/** The counted crashes of `history` within the window that ends at `now`. */
export function crashesInWindow(
  history: CrashHistory,
  policy: Pick<RestartPolicy, 'restartWindowMs'>,
  now: number,
): number {
  return history.crashTimes.filter((t) => now - t < policy.restartWindowMs).length;
}
