import { fork } from 'node:child_process';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { isWorkerMessage } from './ipc.js';
import type { WorkerAssignment } from './ipc.js';

/**
 * Load the compiled route files in a throwaway worker process, as a reload's pre-flight: the new bundle must load
 * and compile into a route table before any running worker is replaced. Resolves with the route patterns.
 *
 * @param execArgv - Node flags of the checker (the `--import` of the app's instrumentation module, so a broken one
 *   fails here, before any worker is replaced). @defaultValue none
 * @throws RouteMQError the code of the load failure (`RMQ_ERR_ROUTE_FILE_INVALID`, `RMQ_ERR_PATTERN_INVALID`,
 *   `RMQ_ERR_INSTRUMENTATION_FAILED`, …).
 */
export function checkRouteFiles(
  entry: string,
  assignment: Omit<WorkerAssignment, 'checkOnly'>,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  execArgv: readonly string[] = [],
): Promise<readonly string[]> {
  return new Promise((resolve, reject) => {
    const child = fork(entry, [], { execArgv: [...execArgv], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let routes: readonly string[] | undefined;
    let failure: { code: string; message: string } | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('spawn', () => child.send({ type: 'config', ...assignment, checkOnly: true }));
    child.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'checked') routes = message.routes;
      if (message.type === 'failed') failure = { code: message.code, message: message.message };
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && routes) {
        resolve(routes);
        return;
      }
      reject(
        new RouteMQError(
          (failure?.code as ErrorCode | undefined) ?? ErrorCodes.ROUTE_FILE_INVALID,
          failure?.code === ErrorCodes.INSTRUMENTATION_FAILED
            ? failure.message
            : `The route files failed to load: ${failure?.message ?? `checker exited with ${signal ?? String(code)}`}`,
        ),
      );
    });
  });
}
