import { describe, expect, it } from 'vitest';
import { subscriptionIdFor } from '../../src/router/subscription-id.js';

describe('subscriptionIdFor', () => {
  it('is a pure function of the topic, within the v5 range', () => {
    const id = subscriptionIdFor('$share/g/sensors/+/telemetry', new Set());
    expect(subscriptionIdFor('$share/g/sensors/+/telemetry', new Set())).toBe(id);
    expect(subscriptionIdFor('$share/h/sensors/+/telemetry', new Set())).not.toBe(id);
    expect(id).toBeGreaterThanOrEqual(1);
    expect(id).toBeLessThanOrEqual(268_435_455);
  });

  it('moves to the next free identifier on a clash, wrapping at the top of the range', () => {
    const id = subscriptionIdFor('a/b', new Set());
    expect(subscriptionIdFor('a/b', new Set([id]))).toBe(id === 268_435_455 ? 1 : id + 1);
    expect(subscriptionIdFor('a/b', new Set([id, id + 1]))).toBe(id + 2 > 268_435_455 ? id + 2 - 268_435_455 : id + 2);
  });
});
