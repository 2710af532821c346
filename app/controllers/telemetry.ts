import { z } from 'zod';
import type { MessageContext } from '../../src/index.js';

/** What a sensor sends on `sensors/<id>/telemetry`. */
export const TelemetrySchema = z.object({
  value: z.number(),
  unit: z.enum(['C', 'F', '%']).default('C'),
  ts: z.number().int().optional(),
});

export type Telemetry = z.output<typeof TelemetrySchema>;

const ALERT_ABOVE = 40;

/**
 * Store a reading (here: keep the last one in memory) and raise an alert when it is too hot. Runs in a worker
 * process of the shared `telemetry` pool; the alert publish resolves when the broker has acked it.
 */
export async function recordTelemetry(ctx: MessageContext<{ sensorId: string }, Telemetry>): Promise<void> {
  const { sensorId } = ctx.params;
  lastReadings.set(sensorId, ctx.payload);
  if (ctx.payload.unit === 'C' && ctx.payload.value > ALERT_ABOVE) {
    await ctx.publish(`alerts/${sensorId}`, { sensorId, value: ctx.payload.value, reason: 'too hot' });
  }
}

const lastReadings = new Map<string, Telemetry>();
