import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS } from '../../src/config/fields.js';
import { leaveDrainMs } from '../../src/worker/pools.js';

const r = { maxAttempts: 3, handlerTimeoutMs: 1_000, retryMaxMs: 200, shutdownTimeoutMs: 5_000 };

describe('leaveDrainMs', () => {
  it.each<[string, { timeoutMs?: number; maxAttempts?: number }[], number]>([
    ['no route', [], 5_000],
    ['a route on the defaults', [{}], 5_000 + 3 * (1_000 + 200)],
    ['the slowest route of several', [{ timeoutMs: 100 }, { timeoutMs: 4_000, maxAttempts: 2 }], 5_000 + 2 * 4_200],
    ['a timeout past what a timer can wait', [{ timeoutMs: MAX_TIMER_MS }], MAX_TIMER_MS],
  ])('gives a leaving slot the shutdown timeout plus every try of its slowest message: %s', (_label, routes, ms) => {
    expect(leaveDrainMs(routes, r)).toBe(ms);
  });
});
