import type { Router } from 'routemq';
import { handleCommand } from '../app/commands.js';

// A route in the main process: `{deviceId}` is a named level (ctx.params), `+` an anonymous one (ctx.wildcards).
export default (router: Router): void => {
  router.on('devices/{deviceId}/commands/+', handleCommand, { qos: 1 });
};
