import { describe, expect, it } from 'vitest';
import { backoffDelayMs, sleep } from '../../src/util/backoff.js';

describe('backoffDelayMs', () => {
  it('doubles from the base and stays between half and all of the exponential delay', () => {
    const opts = { baseMs: 100, maxMs: 10_000 };
    expect(backoffDelayMs(0, { ...opts, random: () => 0 })).toBe(50);
    expect(backoffDelayMs(0, { ...opts, random: () => 0.999999 })).toBe(100);
    expect(backoffDelayMs(3, { ...opts, random: () => 0 })).toBe(400);
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    expect(backoffDelayMs(1000, { baseMs: 100, maxMs: 5000, random: () => 0.999999 })).toBe(5000);
  });
});

describe('sleep', () => {
  it('rejects with the abort reason when the signal aborts first', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });
});
