import type { Router } from '../src/index.js';
import { TelemetrySchema, recordTelemetry } from '../app/controllers/telemetry.js';
import { timing } from '../app/middleware/timing.js';

// A shared route: `$share/<MQTT_GROUP_NAME>/sensors/+/telemetry`, served by a pool of 2 worker processes.
export default (router: Router): void => {
  router.group({ prefix: 'sensors', middleware: [timing()] }, (sensors) => {
    sensors.on('{sensorId}/telemetry', recordTelemetry, {
      schema: TelemetrySchema,
      shared: true,
      workerCount: 2,
    });
  });
};
