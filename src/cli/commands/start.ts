import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { ErrorCodes, RouteMQError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { TrafficTools } from '../../types.js';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { formatTable } from '../format-table.js';
import { importInstrumentation } from '../../util/instrumentation.js';
import { ExitCodes, installShutdownSignals } from '../signals.js';
import { registerTypeScriptLoader } from '../ts-loader.js';
import type { RouteMQApp } from '../../runtime/app.js';
import type { RouteMQService } from '../../service/service.js';
import { envFileOption } from './routes.js';

/** `routemq start`: load the config, start the service, install signals, print the table. */
export function registerStartCommand(program: Command): void {
  addCommonOptions(program.command('start'))
    .description('load the config and route files, connect, and serve until SIGINT/SIGTERM')
    .option('--traffic <module>', "after start-up, run this module's default export to publish sample traffic")
    .hook('preAction', registerTypeScriptLoader)
    .action((flags: ServeFlags) => serveFromCli(flags));
}

/** Flags of `routemq start` and `routemq dev`. */
export type ServeFlags = CommonFlags & { traffic?: string };

/** What `routemq dev` adds to a start: pretty logs by default, and something to run once serving. */
export interface ServeExtras {
  /** Log pretty unless `LOG_PRETTY` says otherwise. @defaultValue false (pretty on a TTY) */
  readonly pretty?: boolean;
  /** Runs once the service serves; resolves with its cleanup, run before the service stops. */
  readonly afterStart?: (service: RouteMQService, logger: Logger) => Promise<() => Promise<void>>;
}

/** Load the config, start the service, install signals, print the table (`routemq start`, `routemq dev`). */
export async function serveFromCli(flags: ServeFlags, extras: ServeExtras = {}): Promise<void> {
  // Loaded here, not at the top, so that `routemq --help` and the control commands do not pay for them.
  const { describeConfig, loadConfig } = await import('../../config/load-config.js');
  const { createLogger } = await import('../../logger.js');
  const { RouteMQService } = await import('../../service/service.js');
  const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
  const pretty = config.log.pretty ?? (extras.pretty ? true : undefined);
  const logger = createLogger({ level: config.log.level, ...(pretty !== undefined ? { pretty } : {}) });
  logger.debug({ config: describeConfig(config) }, 'configuration');
  // Usually imported already by bin/routemq.js (from the environment, before any other module); this covers a
  // value from .env or a flag, and is a no-op otherwise.
  if (config.routemq.instrumentation !== undefined) await importInstrumentation(config.routemq.instrumentation);
  const traffic = new AbortController();
  let stopRequested: (signal: NodeJS.Signals) => void = () => undefined;
  let cleanUp: () => Promise<void> = () => Promise.resolve();
  const service = new RouteMQService({
    config,
    logger,
    onStopRequest: () => stopRequested('SIGTERM'),
    // The app cannot go on (its session was taken over, say): it has stopped; exit non-zero so a supervisor sees it.
    onFatal: (err) => {
      logger.fatal({ code: err.code }, `stopped: ${err.message}`);
      process.exit(ExitCodes.failed);
    },
  });
  const signals = installShutdownSignals(
    async () => {
      traffic.abort();
      await cleanUp();
      await service.stop();
    },
    logger,
    { reload: () => service.reload(), force: () => service.kill() },
  );
  stopRequested = signals.trigger;
  await service.start();
  printStartupTable(service.app);
  if (extras.afterStart) {
    try {
      cleanUp = await extras.afterStart(service, logger);
    } catch (err) {
      await service.stop();
      throw err;
    }
  }
  if (flags.traffic) void runTraffic(flags.traffic, service, traffic.signal, logger);
}

async function runTraffic(file: string, app: RouteMQService, signal: AbortSignal, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'traffic' });
  try {
    const mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
    if (typeof mod.default !== 'function')
      throw new RouteMQError(ErrorCodes.CONFIG_INVALID, `--traffic ${file} has no default-exported function`);
    const tools: TrafficTools = { publish: (t, p, o) => app.publish(t, p, o), signal, log };
    await (mod.default as (tools: TrafficTools) => Promise<void>)(tools);
  } catch (err) {
    if (!signal.aborted) log.error({ err }, 'sample traffic stopped with an error');
  }
}

/** The start-up table (stderr, for people; the same facts are in the JSON log). */
function printStartupTable(app: RouteMQApp): void {
  const health = app.workers?.getWorkerHealth();
  const rows = (health?.workers ?? []).map((w) => ({
    pool: w.pool,
    slot: String(w.slot),
    pid: String(w.pid ?? '-'),
    'client id': w.clientId,
    routes: health?.pools.find((p) => p.name === w.pool)?.routes.join(', ') ?? '',
  }));
  const main = (app.table?.routes ?? []).filter((r) => !r.shared || !app.workers);
  const lines = [
    `RouteMQ serving ${app.table?.routes.length ?? 0} route(s)`,
    `main process (pid ${process.pid}): ${main.map((r) => r.pattern).join(', ') || '(no routes)'}`,
    ...(rows.length > 0 ? ['', formatTable(rows).trimEnd()] : []),
  ];
  process.stderr.write(lines.join('\n') + '\n');
}
