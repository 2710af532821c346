import { describe, expect, it } from 'vitest';
import { WorkerExitCodes } from '../../src/worker/ipc.js';
import { NO_CRASHES, crashesInWindow, decideAfterCrash, isCountedCrash } from '../../src/worker/restart-policy.js';
import type { CrashDecision, CrashHistory, RestartPolicy } from '../../src/worker/restart-policy.js';
import type { WorkerExit } from '../../src/worker/worker-exit.js';

const policy: RestartPolicy = {
  maxRestarts: 3,
  restartWindowMs: 60_000,
  restartBaseMs: 1_000,
  restartMaxMs: 30_000,
  healthyAfterMs: 10_000,
};

/** A worker that was ready for half a second and then exited with code 1. */
function exit(extra: Partial<WorkerExit> = {}): WorkerExit {
  return {
    code: 1,
    signal: null,
    requested: false,
    failure: undefined,
    wasReady: true,
    readyForMs: 500,
    ranForMs: 800,
    inHand: [],
    handled: false,
    heldKeys: [],
    sessionEnded: false,
    ...extra,
  };
}

/** Jitter at its low end: each delay is exactly half of the exponential one. */
const low = (): number => 0;
/** Jitter at its high end: each delay is (almost exactly) the exponential one. */
const high = (): number => 0.999999;

interface Step {
  readonly at: number;
  readonly slot?: number;
  readonly exit?: Partial<WorkerExit>;
}

/** Decide each end in turn, carrying the history from one decision to the next. */
function run(steps: readonly Step[], history: CrashHistory = NO_CRASHES): CrashDecision[] {
  const decisions: CrashDecision[] = [];
  for (const step of steps) {
    const ended = { slot: step.slot ?? 0, desired: 2, at: step.at, exit: exit(step.exit) };
    const decision = decideAfterCrash(history, ended, policy, low);
    decisions.push(decision);
    history = decision.history;
  }
  return decisions;
}

describe('decideAfterCrash', () => {
  it.each<[string, Partial<WorkerExit>, number, Partial<CrashDecision>]>([
    ['a stop the parent asked for', { requested: true, code: 0 }, 0, { action: 'none', reason: 'requested' }],
    ['a requested stop that ended in SIGKILL', { requested: true, signal: 'SIGKILL' }, 0, { action: 'none' }],
    ['the end of a slot that left the pool', {}, 2, { action: 'none', reason: 'left-pool' }],
    ['a session takeover', { code: WorkerExitCodes.sessionTakenOver }, 0, { action: 'back-off', delayMs: 30_000 }],
    [
      'a takeover the parent asked for',
      { code: WorkerExitCodes.sessionTakenOver, requested: true },
      0,
      { action: 'none' },
    ],
    ['a crash with an exit code', { code: 1 }, 0, { action: 'restart', streak: 1, delayMs: 500 }],
    ['a kill by a signal', { code: null, signal: 'SIGKILL' }, 1, { action: 'restart', streak: 1, delayMs: 500 }],
    [
      'a worker that failed to start',
      { wasReady: false, readyForMs: 0, failure: { code: 'RMQ_ERR_MQTT_AUTH', message: 'not authorized' } },
      0,
      { action: 'restart', streak: 1, delayMs: 500 },
    ],
  ])('decides on %s', (_label, end, slot, expected) => {
    const decision = decideAfterCrash(NO_CRASHES, { slot, desired: 2, at: 0, exit: exit(end) }, policy, low);
    expect(decision).toMatchObject(expected);
  });

  it.each<[string, Partial<WorkerExit>, boolean]>([
    ['a requested stop', { requested: true }, false],
    ['a session takeover', { code: WorkerExitCodes.sessionTakenOver }, false],
    ['a crash', {}, true],
  ])('counts %s as a crash: %s', (_label, end, counted) => {
    const decision = decideAfterCrash(NO_CRASHES, { slot: 0, desired: 1, at: 5, exit: exit(end) }, policy, low);
    expect(isCountedCrash(decision)).toBe(counted);
    expect(decision.history.crashTimes).toEqual(counted ? [5] : []);
  });

  it('doubles the delay for each crash in a row of a slot, up to restartMaxMs', () => {
    const delays = run([0, 1, 2].map((at) => ({ at }))).map((d) => (d.action === 'restart' ? d.delayMs : -1));
    expect(delays).toEqual([500, 1_000, 2_000]);
    const history: CrashHistory = { crashTimes: [], streaks: new Map([[0, 9]]), degraded: false };
    const capped = decideAfterCrash(history, { slot: 0, desired: 1, at: 0, exit: exit() }, policy, high);
    expect(capped).toMatchObject({ action: 'restart', streak: 10, delayMs: 30_000 });
  });

  it('keeps the jitter between half and all of the exponential delay', () => {
    const ended = { slot: 0, desired: 1, at: 0, exit: exit() };
    expect(decideAfterCrash(NO_CRASHES, ended, policy, low)).toMatchObject({ delayMs: 500 });
    expect(decideAfterCrash(NO_CRASHES, ended, policy, () => 0.5)).toMatchObject({ delayMs: 750 });
    expect(decideAfterCrash(NO_CRASHES, ended, policy, high)).toMatchObject({ delayMs: 1_000 });
  });

  it('starts the backoff over once the worker ran healthy for healthyAfterMs', () => {
    const [, , third, fourth] = run([
      { at: 0 },
      { at: 1 },
      { at: 20_000, exit: { readyForMs: 10_000 } },
      { at: 70_000 },
    ]);
    expect(third).toMatchObject({ action: 'restart', streak: 1, delayMs: 500 });
    expect(fourth).toMatchObject({ action: 'restart', streak: 2, delayMs: 1_000 });
  });

  it("keeps each slot's streak apart", () => {
    const decisions = run([{ at: 0 }, { at: 1 }, { at: 2, slot: 1 }]);
    expect(decisions.map((d) => (d.action === 'restart' ? d.streak : 0))).toEqual([1, 2, 1]);
  });

  it('degrades the pool past maxRestarts crashes within the window, until the oldest leaves it', () => {
    const decisions = run([{ at: 1_000 }, { at: 2_000, slot: 1 }, { at: 3_000 }, { at: 4_000, slot: 1 }]);
    expect(decisions.slice(0, 3).map((d) => d.action)).toEqual(['restart', 'restart', 'restart']);
    expect(decisions[3]).toMatchObject({ action: 'degrade', restarts: 4, resumeInMs: 57_000, entered: true });
    expect(decisions[3]?.history.degraded).toBe(true);
  });

  it('says only once that the pool entered the degraded state, and moves the resume to the new oldest crash', () => {
    const decisions = run([{ at: 0 }, { at: 10_000 }, { at: 20_000 }, { at: 30_000 }, { at: 40_000 }]);
    expect(decisions[3]).toMatchObject({ action: 'degrade', entered: true, restarts: 4, resumeInMs: 30_000 });
    expect(decisions[4]).toMatchObject({ action: 'degrade', entered: false, restarts: 5, resumeInMs: 20_000 });
  });

  it('forgets the crashes that left the window (a crash exactly restartWindowMs old has left it)', () => {
    const decisions = run([{ at: 0 }, { at: 10_000 }, { at: 20_000 }, { at: 60_000 }]);
    expect(decisions[3]).toMatchObject({ action: 'restart' });
    expect(decisions[3]?.history.crashTimes).toEqual([10_000, 20_000, 60_000]);
  });

  it('is pure: it returns a new history and leaves the one it was given as it was', () => {
    const before: CrashHistory = { crashTimes: [1], streaks: new Map([[0, 1]]), degraded: false };
    const decision = decideAfterCrash(before, { slot: 0, desired: 1, at: 2, exit: exit() }, policy, low);
    expect(before).toEqual({ crashTimes: [1], streaks: new Map([[0, 1]]), degraded: false });
    expect(decision.history).toEqual({ crashTimes: [1, 2], streaks: new Map([[0, 2]]), degraded: false });
    expect(NO_CRASHES).toEqual({ crashTimes: [], streaks: new Map(), degraded: false });
    const again = decideAfterCrash(before, { slot: 0, desired: 1, at: 2, exit: exit() }, policy, low);
    expect(again).toEqual(decision);
  });
});

describe('crashesInWindow', () => {
  it('counts the crashes younger than the window at the given time', () => {
    const history: CrashHistory = { crashTimes: [0, 30_000, 59_999], streaks: new Map(), degraded: false };
    expect(crashesInWindow(history, policy, 59_999)).toBe(3);
    expect(crashesInWindow(history, policy, 60_000)).toBe(2);
    expect(crashesInWindow(history, policy, 200_000)).toBe(0);
  });
});
