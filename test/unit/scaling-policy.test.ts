import { describe, expect, it } from 'vitest';
import { decideScale } from '../../src/scaling/policy.js';
import type { ScalingPolicyConfig, ScalingState } from '../../src/scaling/policy.js';

const config: ScalingPolicyConfig = {
  minWorkers: 1,
  maxWorkers: 4,
  targetBusy: 0.7,
  tolerance: 0.1,
  queueDepthPerWorker: 100,
  scaleUpCooldownMs: 10_000,
  scaleDownCooldownMs: 30_000,
  scaleDownStabilizationMs: 60_000,
};

function state(current: number, extra: Partial<ScalingState> = {}): ScalingState {
  return { current, lastScaleUpAt: undefined, lastScaleDownAt: undefined, recommendations: [], ...extra };
}

describe('decideScale', () => {
  it.each([
    ['busy at target', 2, 0.7, undefined, 2],
    ['within the tolerance band', 2, 0.75, undefined, 2],
    ['twice the target', 1, 1.0, undefined, 2],
    ['saturated', 2, 1.0, undefined, 3],
    ['clamped to maxWorkers', 3, 1.0, undefined, 4],
    ['queue depth asks for more than busy', 1, 0.2, 350, 4],
    ['queue depth of zero and idle', 1, 0, 0, 1],
  ])('scales up on %s', (_label, current, busy, queueDepth, expected) => {
    expect(decideScale(state(current), { busyRatio: busy, queueDepth }, config, 0).desired).toBe(expected);
  });

  it('keeps the exact edges of the tolerance band and of the ceiling despite binary rounding', () => {
    const wide = { ...config, maxWorkers: 20 };
    expect(decideScale(state(1), { busyRatio: 0.77 }, wide, 0).desired).toBe(1);
    expect(decideScale(state(2), { busyRatio: 0.63 }, wide, 0).desired).toBe(2);
    expect(decideScale(state(1), { busyRatio: 0.771 }, wide, 0).desired).toBe(2);
    const down = decideScale(state(10, { since: -60_000 }), { busyRatio: 0.49 }, wide, 0);
    expect(down.reason).toContain('scale down 10 → 7');
  });

  it('never goes below minWorkers or above maxWorkers', () => {
    expect(decideScale(state(1), { busyRatio: 0 }, config, 0).desired).toBe(1);
    expect(decideScale(state(4), { busyRatio: 5 }, config, 0).desired).toBe(4);
  });

  it('waits for the scale-up cooldown', () => {
    const s = state(2, { lastScaleUpAt: 0 });
    expect(decideScale(s, { busyRatio: 1 }, config, 5_000).desired).toBe(2);
    expect(decideScale(s, { busyRatio: 1 }, config, 10_000).desired).toBe(3);
  });

  it('does not flap: a dip within the stabilisation window does not scale down', () => {
    let s = state(3);
    let decision = decideScale(s, { busyRatio: 0.7 }, config, 0);
    s = decision.state;
    decision = decideScale(s, { busyRatio: 0.1 }, config, 20_000);
    expect(decision.desired).toBe(3);
    expect(decision.reason).toContain('stabilisation');
    decision = decideScale(decision.state, { busyRatio: 0.1 }, config, 70_000);
    expect(decision.desired).toBe(1);
  });

  it('scales down only after watching a whole stabilisation window (a new leader knows no history)', () => {
    const first = decideScale(state(3), { busyRatio: 0 }, config, 1_000);
    expect(first.desired).toBe(3);
    expect(first.state.since).toBe(1_000);
    expect(decideScale(first.state, { busyRatio: 0 }, config, 60_999).desired).toBe(3);
    expect(decideScale(first.state, { busyRatio: 0 }, config, 61_000).desired).toBe(1);
    // Scale-ups do not wait.
    expect(decideScale(state(1), { busyRatio: 1 }, config, 1_000).desired).toBe(2);
  });

  it('waits for the scale-down cooldown after a scale-down', () => {
    const s = state(3, { lastScaleDownAt: 50_000, since: 0 });
    expect(decideScale(s, { busyRatio: 0.1 }, config, 60_000).desired).toBe(3);
    expect(decideScale(s, { busyRatio: 0.1 }, config, 80_000).desired).toBe(1);
  });

  it('says why, with its inputs', () => {
    const d = decideScale(state(1), { busyRatio: 1.4, queueDepth: 10 }, config, 0);
    expect(d.reason).toBe('scale up 1 → 2: busy 1.40 (target 0.7), queue depth 10');
  });
});
