import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { ControlRequest, ControlResponse } from './protocol.js';

/**
 * Send one request to a running instance's control socket and return its result.
 *
 * @throws RouteMQError `RMQ_ERR_CONTROL_UNREACHABLE` when nothing listens there; the instance's own error code when
 *   the request failed.
 */
export function sendControlRequest(path: string, request: ControlRequest, timeoutMs = 120_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new RouteMQError(ErrorCodes.CONTROL_UNREACHABLE, `No answer on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new RouteMQError(
          ErrorCodes.CONTROL_UNREACHABLE,
          `No running routemq instance answers on ${path} (${err.message}); is \`routemq start\` running here, ` +
            'with the same ROUTEMQ_CONTROL_SOCKET?',
        ),
      );
    });
    socket.once('connect', () => {
      // Read only once connected: readline re-emits the socket's errors, which the handler above already takes.
      createInterface({ input: socket }).once('line', (line) => {
        clearTimeout(timer);
        socket.destroy();
        const response = JSON.parse(line) as ControlResponse;
        if (response.ok) resolve(response.result);
        else reject(new RouteMQError(response.error.code as ErrorCode, response.error.message));
      });
      socket.write(JSON.stringify(request) + '\n');
    });
  });
}
