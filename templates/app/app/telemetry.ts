import { z } from 'zod';
import type { MessageContext } from 'routemq';

/** What a sensor publishes on `sensors/<sensorId>/telemetry`. `unit` is optional for publishers. */
export const Reading = z.object({
  value: z.number(),
  unit: z.enum(['C', 'F']).default('C'),
});

export type Reading = z.output<typeof Reading>;

/** Readings above this (in °C) raise an alert. */
export const ALERT_ABOVE_C = 40;

/**
 * Handle one reading: publish an alert on `alerts/<sensorId>` when it is too hot. A throw (or rejection) makes
 * RouteMQ retry the message, then dead-letter it; the message is acked only once this resolves.
 */
export async function handleReading(ctx: MessageContext<{ sensorId: string }, Reading>): Promise<void> {
  const celsius = ctx.payload.unit === 'F' ? ((ctx.payload.value - 32) * 5) / 9 : ctx.payload.value;
  ctx.log.info({ sensorId: ctx.params.sensorId, celsius }, 'reading');
  if (celsius > ALERT_ABOVE_C) {
    await ctx.publish(`alerts/${ctx.params.sensorId}`, { sensorId: ctx.params.sensorId, celsius });
  }
}
