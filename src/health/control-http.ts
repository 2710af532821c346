/**
 * @module
 * `POST /control`: the dashboard's actions (scale a pool, restart a worker, reload), run by the same handler as the
 * control socket (`routemq scale`, `routemq worker restart`, `routemq reload`). Documented in docs/dashboard.md.
 * The caller (the health server) has already checked the token: these change state, so they always need it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlHandler } from '../control/control-server.js';
import { parseControlRequest } from '../control/protocol.js';
import { ErrorCodes, errorMessageOf, isRouteMQError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { HttpRouteMQError, readJsonBody, sendJson } from './dead-letter-http.js';

/** The commands `POST /control` takes (`stop` and `status` are not actions of the page). */
export const HTTP_CONTROL_COMMANDS: ReadonlySet<string> = new Set(['scale', 'restart-worker', 'reload']);

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.CONTROL_INVALID]: 400,
  // A worker count below 1 (`scaleTo`'s check).
  [ErrorCodes.ROUTE_OPTION_INVALID]: 400,
  [ErrorCodes.POOL_NOT_FOUND]: 404,
  [ErrorCodes.WORKER_NOT_FOUND]: 404,
};

/**
 * Answer one `POST /control` (already authorised). The body is a control-socket request:
 * `{ "cmd": "scale", "pool": "orders", "count": 3 }`, `{ "cmd": "restart-worker", "workerId": "orders-0" }` or
 * `{ "cmd": "reload" }`. Answers 200 with the fresh health snapshot once the action is done; 400
 * `RMQ_ERR_CONTROL_INVALID` for another body, `RMQ_ERR_ROUTE_OPTION_INVALID` for a count below 1; 404 `RMQ_ERR_POOL_NOT_FOUND` / `RMQ_ERR_WORKER_NOT_FOUND`; 409 with
 * the code for any other refusal (e.g. a reload whose route files fail to load); 500 for anything else. Never rejects.
 */
export async function handleControlRequest(
  req: IncomingMessage,
  res: ServerResponse,
  handler: ControlHandler,
  logger: Logger,
): Promise<void> {
  try {
    let body: unknown;
    try {
      body = await readJsonBody(req);
    } catch (err) {
      const status = err instanceof HttpRouteMQError ? err.status : 400;
      if (status === 413) res.setHeader('connection', 'close');
      return sendJson(res, status, { error: errorMessageOf(err), code: ErrorCodes.CONTROL_INVALID });
    }
    const request = parseControlRequest(JSON.stringify(body));
    if (!request || !HTTP_CONTROL_COMMANDS.has(request.cmd)) {
      return sendJson(res, 400, {
        error: `bad control request ${JSON.stringify(body)}: send {"cmd":"scale","pool","count"}, {"cmd":"restart-worker","workerId"} or {"cmd":"reload"}`,
        code: ErrorCodes.CONTROL_INVALID,
      });
    }
    logger.debug({ request }, 'control request over HTTP');
    return sendJson(res, 200, await handler(request));
  } catch (err) {
    if (isRouteMQError(err)) {
      return sendJson(res, STATUS[err.code] ?? 409, { error: err.message, code: err.code });
    }
    logger.warn({ err }, 'control request over HTTP failed');
    if (!res.headersSent) sendJson(res, 500, { error: errorMessageOf(err) });
  }
}
