import type { Router } from '../src/index.js';
import { handleCommand } from '../app/controllers/commands.js';
import { timing } from '../app/middleware/timing.js';

// A non-shared route in the main process: `devices/+/commands/+`, one named param and one anonymous level.
export default (router: Router): void => {
  router.on('devices/{deviceId}/commands/+', handleCommand, { middleware: [timing()], qos: 1 });
};
