import type { ControlHandler } from '../control/control-server.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { HealthSnapshot } from '../health/health-monitor.js';
import type { ReloadResult, RouteMQApp } from '../runtime/app.js';

/**
 * Answer control-socket requests for a running app. `status` is the health monitor's fresh sample; `reload` answers
 * with the {@link ReloadResult}; `stop` starts the same graceful shutdown as SIGTERM.
 */
export function appControlHandler(
  app: RouteMQApp,
  status: () => Promise<HealthSnapshot>,
  reload: () => Promise<ReloadResult>,
  stop: (signal: NodeJS.Signals) => void,
): ControlHandler {
  const workers = (): NonNullable<RouteMQApp['workers']> => {
    if (!app.workers)
      throw new RouteMQError(ErrorCodes.POOL_NOT_FOUND, 'This app has no shared routes, so no worker pools');
    return app.workers;
  };
  return async (request) => {
    switch (request.cmd) {
      case 'status':
        return status();
      case 'reload':
        // What was reloaded, so `routemq reload` can say it (or fail with the code when nothing was).
        return reload();
      case 'stop':
        // Answer first; the shutdown closes the socket.
        setImmediate(() => stop('SIGTERM'));
        return { stopping: true };
      case 'scale':
        await workers().scaleTo(request.pool, request.count);
        return status();
      case 'restart-worker':
        await workers().restartWorker(request.workerId);
        return status();
    }
  };
}
