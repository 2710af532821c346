import type { Router } from 'routemq';
import { Reading, handleReading } from '../app/telemetry.js';

// A shared route: RouteMQ subscribes to `$share/<MQTT_GROUP_NAME>/sensors/+/telemetry` from a pool of 2 worker
// processes; the broker splits the messages between them.
export default (router: Router): void => {
  router.on('sensors/{sensorId}/telemetry', handleReading, { schema: Reading, shared: true, workerCount: 2 });
};
