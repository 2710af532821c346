import { describe, expect, it } from 'vitest';
import { Pool, assertWorkerCount } from '../../src/worker/pool.js';
import type { SlotWorker } from '../../src/worker/pool.js';
import type { PoolPlan } from '../../src/worker/pools.js';
import { NO_CRASHES } from '../../src/worker/restart-policy.js';
import type { CrashDecision } from '../../src/worker/restart-policy.js';
import type { WorkerState } from '../../src/worker/worker-process.js';

const plan: PoolPlan = { name: 'p', routes: [], size: 3, concurrency: 1 };

class FakeWorker implements SlotWorker {
  constructor(
    readonly id: string,
    public state: WorkerState = 'ready',
  ) {}
}

function filled(desired = 3): { pool: Pool<FakeWorker>; workers: FakeWorker[] } {
  const pool = new Pool<FakeWorker>(plan, desired);
  const workers = Array.from({ length: desired }, (_, slot) => new FakeWorker(`p-${slot}`));
  workers.forEach((w, slot) => pool.attach(slot, w));
  return { pool, workers };
}

const ended = { code: 1, signal: null };
const history = (degraded: boolean, crashTimes: number[]) => ({ crashTimes, streaks: new Map(), degraded });
const restart: CrashDecision = { action: 'restart', delayMs: 1, streak: 1, history: history(false, [100]) };
const degrade: CrashDecision = {
  action: 'degrade',
  restarts: 2,
  resumeInMs: 5,
  entered: true,
  history: history(true, [100, 200]),
};
const backOff: CrashDecision = { action: 'back-off', delayMs: 1, history: NO_CRASHES };
const none: CrashDecision = { action: 'none', reason: 'requested', history: NO_CRASHES };

describe('Pool', () => {
  it("starts at its plan's size, with every slot missing", () => {
    const pool = new Pool<FakeWorker>(plan);
    expect([pool.name, pool.desired, pool.plan]).toEqual(['p', 3, plan]);
    expect(pool.missingSlots()).toEqual([0, 1, 2]);
    expect([pool.live(), pool.degraded, pool.totalRestarts]).toEqual([[], false, 0]);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a size of %s, and keeps the one it had', (n) => {
    expect(() => new Pool(plan, n)).toThrow(expect.objectContaining({ code: 'RMQ_ERR_ROUTE_OPTION_INVALID' }));
    const pool = new Pool(plan, 2);
    expect(() => pool.resize(n)).toThrow(expect.objectContaining({ code: 'RMQ_ERR_ROUTE_OPTION_INVALID' }));
    expect(() => assertWorkerCount(n)).toThrow(`A worker count must be an integer ≥ 1, got ${String(n)}`);
    expect(pool.desired).toBe(2);
  });

  it('refuses a size over its maxSize (WORKER_MAX_COUNT), naming the pool and the variable', () => {
    expect(() => new Pool(plan, 5, 4)).toThrow(expect.objectContaining({ code: 'RMQ_ERR_ROUTE_OPTION_INVALID' }));
    const pool = new Pool(plan, 4, 4);
    expect(() => pool.resize(100_000)).toThrow(/Pool p .*100000 workers is over WORKER_MAX_COUNT \(4\)/);
    expect(pool.desired).toBe(4);
    expect(pool.resize(1)).toBe(4);
  });

  it('keeps its state to itself: the size changes only through resize', () => {
    const pool = new Pool(plan);
    expect(() => Object.assign(pool, { desired: 7 })).toThrow(TypeError);
    expect(Object.keys(pool)).toEqual([]);
    expect(pool.resize(5)).toBe(3);
    expect(pool.desired).toBe(5);
  });

  it('counts slots below desired with no worker and no pending restart as missing', () => {
    const { pool, workers } = filled();
    expect(pool.missingSlots()).toEqual([]);
    expect(pool.detach(1, workers[1]!, ended)).toBe(true);
    expect(pool.missingSlots()).toEqual([1]);
    pool.holdForRestart(1);
    expect([pool.missingSlots(), pool.pendingSlots()]).toEqual([[], [1]]);
    pool.release(1);
    expect(pool.missingSlots()).toEqual([1]);
    pool.resize(5);
    expect(pool.missingSlots()).toEqual([1, 3, 4]);
    pool.resize(1);
    expect(pool.missingSlots()).toEqual([]);
  });

  it('never marks a filled slot as pending, and a slot it fills is no longer pending', () => {
    const { pool, workers } = filled(2);
    pool.holdForRestart(0);
    expect(pool.pendingSlots()).toEqual([]);
    pool.detach(0, workers[0]!, ended);
    pool.holdForRestart(0);
    pool.attach(0, new FakeWorker('p-0'));
    expect([pool.pendingSlots(), pool.missingSlots()]).toEqual([[], []]);
  });

  it("empties a slot only for the worker it holds, and keeps each slot's last exit", () => {
    const { pool, workers } = filled(2);
    const old = workers[0]!;
    const fresh = new FakeWorker('p-0');
    pool.attach(0, fresh);
    expect(pool.detach(0, old, { code: null, signal: 'SIGKILL' })).toBe(false);
    expect(pool.worker(0)).toBe(fresh);
    expect(pool.lastExit(0)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(pool.lastExit(1)).toBeUndefined();
  });

  it('finds workers by id, lists the live ones and those that leave when it shrinks', () => {
    const { pool, workers } = filled();
    workers[2]!.state = 'dead';
    expect(pool.live()).toEqual([workers[0], workers[1]]);
    expect(pool.find('p-1')).toEqual({ slot: 1, worker: workers[1] });
    expect(pool.find('p-9')).toBeUndefined();
    expect(pool.leaving(1)).toEqual([workers[1], workers[2]]);
    expect(pool.workers()).toEqual(workers.map((w, slot) => [slot, w]));
  });

  it('puts the surge worker above desired and above every filled slot', () => {
    const { pool } = filled(2);
    expect(pool.surgeSlot()).toBe(2);
    pool.attach(4, new FakeWorker('p-4'));
    expect(pool.surgeSlot()).toBe(5);
  });

  it('keeps the crash history it is given and counts only restarts and pauses', () => {
    const pool = new Pool<FakeWorker>(plan);
    pool.recordCrash(0, restart);
    pool.recordCrash(0, backOff);
    pool.recordCrash(1, none);
    expect([pool.totalRestarts, pool.restartsOf(0), pool.restartsOf(1)]).toEqual([1, 1, 0]);
    pool.recordCrash(1, degrade);
    expect(pool.history).toBe(degrade.history);
    expect([pool.degraded, pool.totalRestarts, pool.restartsOf(1)]).toEqual([true, 2, 1]);
    expect(pool.restartsInWindow({ restartWindowMs: 1_000 }, 1_150)).toBe(1);
  });

  it('forgets its crash history on request, but not its lifetime counters', () => {
    const pool = new Pool<FakeWorker>(plan);
    pool.recordCrash(0, restart);
    pool.recordCrash(2, degrade);
    pool.forgetCrashes();
    expect(pool.history).toBe(NO_CRASHES);
    expect([pool.degraded, pool.restartsInWindow({ restartWindowMs: 1_000 }, 200)]).toEqual([false, 0]);
    expect([pool.totalRestarts, pool.restartsOf(0), pool.restartsOf(2)]).toEqual([2, 1, 1]);
  });
});
