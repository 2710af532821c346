import { describe, expect, it } from 'vitest';
import { combinePoolLoads, IDLE_LOAD } from '../../src/worker/pool-load.js';
import { splitShares } from '../../src/scaling/scaling-store.js';

describe('splitShares', () => {
  it.each([
    [4, ['a'], { a: 4 }],
    [4, ['a', 'b'], { a: 2, b: 2 }],
    [5, ['a', 'b'], { a: 3, b: 2 }],
    [7, ['a', 'b', 'c'], { a: 3, b: 2, c: 2 }],
    // Every live host keeps one worker, even when the total is smaller.
    [1, ['a', 'b'], { a: 1, b: 1 }],
  ])('splits %i over %j as %j', (total, hosts, expected) => {
    expect(splitShares(total, hosts)).toEqual(expected);
  });
});

describe('combinePoolLoads', () => {
  it('sums rates and in-flight, weighs the busy ratio by workers, and keeps the largest p95', () => {
    const combined = combinePoolLoads([
      { workers: 3, messagesPerSecond: 30, busyRatio: 0.9, p95Ms: 12, inFlight: 3 },
      { workers: 1, messagesPerSecond: 5, busyRatio: 0.1, p95Ms: undefined, inFlight: 0 },
    ]);
    expect(combined).toEqual({ workers: 4, messagesPerSecond: 35, busyRatio: 0.7, p95Ms: 12, inFlight: 3 });
  });

  it('is idle without workers', () => {
    expect(combinePoolLoads([])).toBe(IDLE_LOAD);
  });
});
