import { errorCodeOf, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';

/** Exit codes of `routemq start`. */
export const ExitCodes = { ok: 0, failed: 1, forced: 130 } as const;

/**
 * Install the process's signal handling, once: the first SIGINT/SIGTERM runs `shutdown` (graceful), a second one
 * exits at once with code 130. `shutdown` should resolve when everything is stopped; the process then exits with
 * its result (0 or 1); a forced exit first runs `force` (which must not leave child processes behind). SIGHUP runs
 * `reload`. `trigger` starts the same shutdown from elsewhere (`routemq stop`).
 */
export function installShutdownSignals(
  shutdown: (signal: NodeJS.Signals) => Promise<void>,
  logger: Logger,
  options: { reload?: () => Promise<unknown>; force?: () => void } = {},
): { readonly trigger: (signal: NodeJS.Signals) => void } {
  const { reload, force } = options;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: forcing exit');
      force?.();
      process.exit(ExitCodes.forced);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down gracefully (send the signal again to force)');
    shutdown(signal).then(
      () => process.exit(ExitCodes.ok),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(ExitCodes.failed);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (reload) {
    process.on('SIGHUP', () => {
      logger.info('SIGHUP: reload');
      reload().catch((err: unknown) =>
        logger.error({ err, code: errorCodeOf(err) }, `reload failed; the running code stays: ${errorMessageOf(err)}`),
      );
    });
  }
  return { trigger: onSignal };
}

/**
 * For a foreground loop (`routemq status --watch`): SIGINT and SIGTERM run `stop` once, which ends the loop; the
 * command then exits 0. Returns a function that removes the handlers.
 */
export function onInterrupt(stop: () => void): () => void {
  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
