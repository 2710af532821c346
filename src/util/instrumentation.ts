import { pathToFileURL } from 'node:url';
import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';

/**
 * Import the app's instrumentation module (`ROUTEMQ_INSTRUMENTATION`, its OpenTelemetry SDK set-up) into this
 * process. Importing the same file again is a no-op (the module loader keeps one instance per URL), so
 * `bin/routemq.js` can load it before anything else and `routemq start` again once the config (and `.env`) is read.
 *
 * @param file - absolute path (a `.ts` file needs the tsx loader, which `routemq start` has).
 * @throws RouteMQError `RMQ_ERR_INSTRUMENTATION_FAILED` when it is not found or throws while loading.
 */
export async function importInstrumentation(file: string): Promise<void> {
  try {
    await import(pathToFileURL(file).href);
  } catch (err) {
    throw new RouteMQError(
      ErrorCodes.INSTRUMENTATION_FAILED,
      `The instrumentation module '${file}' failed to load: ${errorMessageOf(err)}`,
      { cause: err },
    );
  }
}
