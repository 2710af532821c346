import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestRouter } from 'routemq/testing';
import type { TestRouter } from 'routemq/testing';

// routemq/testing runs the routes in this process, with no broker: the same schema, middleware, handler,
// retries and dead letters as `routemq start`.
let t: TestRouter;
beforeEach(async () => {
  t = await createTestRouter('routers');
});
afterEach(() => t.stop());

describe('sensors/{sensorId}/telemetry', () => {
  it('raises an alert for a hot reading', async () => {
    const r = await t.publish('sensors/attic/telemetry', { value: 45 });
    expect(r.outcome).toBe('handled');
    expect(r.published).toEqual([
      expect.objectContaining({ topic: 'alerts/attic', payload: { sensorId: 'attic', celsius: 45 } }),
    ]);
  });

  it('stays quiet for a cool one', async () => {
    const r = await t.publish('sensors/kitchen/telemetry', { value: 68, unit: 'F' });
    expect(r.outcome).toBe('handled');
    expect(r.published).toEqual([]);
  });

  it('dead-letters a reading that fails the schema', async () => {
    const r = await t.publish('sensors/attic/telemetry', { value: 'hot' });
    expect(r.outcome).toBe('dead-lettered');
    expect(r.code).toBe('RMQ_ERR_PAYLOAD_SCHEMA');
  });
});

describe('devices/{deviceId}/commands/+', () => {
  it('replies to a command', async () => {
    const r = await t.publish('devices/lamp-1/commands/toggle', {});
    expect(r.published).toEqual([
      expect.objectContaining({ topic: 'devices/lamp-1/replies', payload: { command: 'toggle', ok: true } }),
    ]);
  });
});
