import type { Command } from 'commander';
import { errorCodeOf, errorMessageOf } from '../../errors.js';
import { addCommonOptions } from '../common-options.js';
import { registerTypeScriptLoader } from '../ts-loader.js';
import { serveFromCli } from './start.js';
import type { ServeFlags } from './start.js';

/**
 * `routemq dev`: `routemq start` for development. Pretty logs (unless `LOG_PRETTY=false`), a local Mosquitto when
 * no broker answers (as `start` does with `ROUTEMQ_DEV_BROKER=auto`), source-mapped stack traces, and a watcher on
 * the route files and every file they import: a change reloads (main-process routes swap between two messages,
 * pools roll); a file that fails to load is reported with its file and line, and the running code stays.
 */
export function registerDevCommand(program: Command): void {
  addCommonOptions(program.command('dev'))
    .description('start, then watch the route files and what they import, and reload on change')
    .option('--traffic <module>', "after start-up, run this module's default export to publish sample traffic")
    .hook('preAction', registerTypeScriptLoader)
    .action((flags: ServeFlags) => {
      // Stack traces of handlers and of a route file that throws while loading name the source file and line.
      process.setSourceMapsEnabled(true);
      return serveFromCli(flags, {
        pretty: true,
        afterStart: async (service, logger) => {
          // Loaded here, not with the CLI: other commands never pay for the watcher.
          const { RouteWatcher } = await import('../../dev/route-watcher.js');
          const { inputsOfFailure, listRouteInputs } = await import('../../runtime/route-bundle.js');
          const routersDir = service.config.routemq.routersDir;
          const files = await listRouteInputs(routersDir).catch((err: unknown) => {
            logger.warn(
              { code: errorCodeOf(err) },
              `watching only the routers directory until a reload succeeds: ${errorMessageOf(err)}`,
            );
            return inputsOfFailure(err);
          });
          const watcher = new RouteWatcher({
            routersDir,
            files,
            logger,
            reload: async (changed): Promise<readonly string[]> => {
              logger.info({ changed }, 'file change: reloading');
              try {
                return (await service.reload()).inputs;
              } catch (err) {
                logger.error(
                  { code: errorCodeOf(err) },
                  `reload failed; the running code stays: ${errorMessageOf(err)}`,
                );
                // Also watch the files of the failure (a new import that does not compile), to retry when it is fixed.
                return [...watcher.files, ...inputsOfFailure(err)];
              }
            },
          });
          await watcher.start();
          logger.info({ routersDir, files: watcher.files.length }, 'watching the route files for changes');
          return () => watcher.stop();
        },
      });
    });
}
