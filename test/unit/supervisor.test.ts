import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerExitCodes } from '../../src/worker/ipc.js';
import { Pool } from '../../src/worker/pool.js';
import type { SlotWorker } from '../../src/worker/pool.js';
import type { RestartPolicy } from '../../src/worker/restart-policy.js';
import { Supervisor } from '../../src/worker/supervisor.js';
import type { PoolDegradedInfo } from '../../src/events.js';
import type { WorkerExit } from '../../src/worker/worker-exit.js';

const policy: RestartPolicy = {
  maxRestarts: 2,
  restartWindowMs: 60_000,
  restartBaseMs: 1_000,
  restartMaxMs: 30_000,
  healthyAfterMs: 10_000,
};

const crash: WorkerExit = {
  code: 1,
  signal: null,
  requested: false,
  failure: undefined,
  wasReady: true,
  readyForMs: 100,
  ranForMs: 200,
  inHand: [],
  handled: false,
  heldKeys: [],
  sessionEnded: false,
};

interface Harness {
  readonly pool: Pool<SlotWorker>;
  readonly supervisor: Supervisor<SlotWorker>;
  readonly respawned: number[];
  readonly degraded: PoolDegradedInfo[];
  readonly logs: { msg: string; level: number }[];
  active: boolean;
  /** The worker in `slot` ends with `exit`: the pool lets it go, then the supervisor decides. */
  end(slot: number, exit?: Partial<WorkerExit>): string;
}

function harness(desired = 3): Harness {
  const pool = new Pool<SlotWorker>({ name: 'p', routes: [], size: desired, concurrency: 1 });
  for (let slot = 0; slot < desired; slot++) pool.attach(slot, { id: `p-${slot}`, state: 'ready' });
  const logs: { msg: string; level: number }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line) as never) });
  const h: Harness = {
    pool,
    respawned: [],
    degraded: [],
    logs,
    active: true,
    supervisor: new Supervisor<SlotWorker>({
      policy,
      logger,
      isActive: () => h.active,
      respawn: (p, slot) => {
        h.respawned.push(slot);
        p.attach(slot, { id: `p-${slot}`, state: 'ready' });
      },
      onDegraded: (info) => h.degraded.push(info),
      now: () => Date.now(),
      random: () => 0,
    }),
    end(slot, exit = {}) {
      const worker = pool.worker(slot);
      if (worker) pool.detach(slot, worker, { code: exit.code ?? 1, signal: null });
      return h.supervisor.onExit(pool, slot, { ...crash, ...exit }, 4242).action;
    },
  };
  return h;
}

describe('Supervisor', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('restarts a crashed slot after its backoff, and keeps the slot from being filled meanwhile', () => {
    const h = harness();
    expect(h.end(1)).toBe('restart');
    expect(h.logs.map((l) => l.msg)).toEqual(['worker exited unexpectedly']);
    expect([h.pool.missingSlots(), h.pool.pendingSlots(), h.pool.totalRestarts]).toEqual([[], [1], 1]);
    vi.advanceTimersByTime(499);
    expect(h.respawned).toEqual([]);
    vi.advanceTimersByTime(1);
    expect([h.respawned, h.pool.pendingSlots()]).toEqual([[1], []]);
    expect(h.end(1)).toBe('restart');
    vi.advanceTimersByTime(999);
    expect(h.respawned).toEqual([1]);
    vi.advanceTimersByTime(1);
    expect(h.respawned).toEqual([1, 1]);
  });

  it('logs a death after the start (ready, or handling before ready) as a crash, never as a failed start', () => {
    const h = harness();
    h.end(0, { wasReady: true });
    h.end(1, { wasReady: false, readyForMs: 0, handled: true });
    h.end(2, { wasReady: false, readyForMs: 0, handled: false });
    const causes = (h.logs as unknown as Record<string, unknown>[])
      .filter((l) => l['msg'] === 'worker exited unexpectedly')
      .map((l) => [l['msg'], l['slot'], l['cause']]);
    expect(causes).toEqual([
      ['worker exited unexpectedly', 0, 'crash'],
      ['worker exited unexpectedly', 1, 'crash'],
      ['worker exited unexpectedly', 2, 'failed-start'],
    ]);
  });

  it('does nothing for a requested stop or for a slot that left the pool', () => {
    const h = harness();
    expect(h.end(0, { requested: true })).toBe('none');
    h.pool.resize(2);
    expect(h.end(2)).toBe('none');
    vi.runAllTimers();
    expect([h.respawned, h.logs, h.pool.totalRestarts]).toEqual([[], [], 0]);
    expect(h.pool.missingSlots()).toEqual([0]);
  });

  it('backs off for restartMaxMs after a session takeover, without counting a crash', () => {
    const h = harness();
    expect(h.end(0, { code: WorkerExitCodes.sessionTakenOver })).toBe('back-off');
    expect(h.logs.map((l) => l.msg)).toEqual([
      'worker exited unexpectedly',
      "another client took this slot's client id; backing off",
    ]);
    expect([h.pool.totalRestarts, h.pool.missingSlots()]).toEqual([0, []]);
    vi.advanceTimersByTime(29_999);
    expect(h.respawned).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(h.respawned).toEqual([0]);
  });

  it('degrades a crash-looping pool once, then restarts its missing slots when the window clears', () => {
    const h = harness();
    h.end(0);
    vi.advanceTimersByTime(1_000);
    h.end(1);
    vi.advanceTimersByTime(100);
    expect(h.end(2)).toBe('degrade');
    expect(h.degraded).toEqual([{ pool: 'p', restarts: 3, windowMs: 60_000 }]);
    expect(h.end(0)).toBe('degrade');
    expect(h.degraded).toHaveLength(1);
    expect([h.pool.degraded, h.pool.missingSlots(), h.pool.pendingSlots()]).toEqual([true, [0, 2], [1]]);
    expect(h.respawned).toEqual([0]);
    // Slot 1's restart was scheduled before the pool degraded: it still runs.
    vi.advanceTimersByTime(400);
    expect(h.respawned).toEqual([0, 1]);
    // The oldest crash (at 0) leaves the window at 60 s.
    vi.advanceTimersByTime(60_000 - 1_500 - 1);
    expect([h.respawned, h.pool.degraded]).toEqual([[0, 1], true]);
    vi.advanceTimersByTime(1);
    expect([h.respawned, h.pool.degraded, h.pool.history.crashTimes]).toEqual([[0, 1, 0, 2], false, []]);
    expect(h.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual(['pool degraded: crash loop']);
  });

  it('leaves a degraded pool alone when its owner is no longer active', () => {
    const h = harness(1);
    for (let i = 0; i < 3; i++) {
      h.end(0);
      vi.advanceTimersByTime(i < 2 ? 500 * 2 ** i : 0);
    }
    expect(h.pool.degraded).toBe(true);
    h.active = false;
    vi.runAllTimers();
    expect([h.respawned, h.pool.degraded]).toEqual([[0, 0], true]);
  });

  it('cancels the pending restarts from a slot up, and with cancelAll the resume too', () => {
    const h = harness();
    h.end(0);
    h.end(2);
    h.supervisor.cancelRestarts(h.pool, 1);
    expect([h.pool.pendingSlots(), h.pool.missingSlots()]).toEqual([[0], [2]]);
    vi.runAllTimers();
    expect(h.respawned).toEqual([0]);

    const d = harness(1);
    for (let i = 0; i < 3; i++) d.end(0);
    expect(d.pool.degraded).toBe(true);
    d.supervisor.cancelAll(d.pool);
    vi.runAllTimers();
    expect([d.respawned, d.pool.degraded]).toEqual([[], true]);
  });
});
