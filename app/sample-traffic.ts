import type { TrafficTools } from '../src/index.js';

/**
 * Sample traffic for `npm start`: three sensors report every second (one of them runs hot now and then), a device
 * gets a command every three seconds, and one malformed reading shows the dead-letter path.
 */
export default async function sampleTraffic({ publish, signal, log }: TrafficTools): Promise<void> {
  log.info('publishing sample traffic: sensors/<id>/telemetry every second, a device command every 3 s');
  let tick = 0;
  while (!signal.aborted) {
    for (const sensorId of ['kitchen', 'garage', 'attic']) {
      const value = sensorId === 'attic' && tick % 5 === 4 ? 45 : 18 + Math.round(Math.random() * 60) / 10;
      await publish(`sensors/${sensorId}/telemetry`, { value, unit: 'C', ts: Date.now() });
    }
    if (tick % 3 === 0) await publish('devices/lamp-1/commands/toggle', { requestedBy: 'sample-traffic' });
    if (tick === 2) await publish('sensors/broken/telemetry', '{"value": "not a number"}');
    tick++;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
