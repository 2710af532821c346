import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { describeConfig, loadConfig } from '../../config/load-config.js';
import { ensureDevBroker } from '../../dev/dev-broker.js';
import type { MosquittoProcess } from '../../dev/mosquitto.js';
import { ErrorCodes, RouteMQError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import type { Logger } from '../../logger.js';
import { RouteMQApp } from '../../runtime/app.js';
import type { TrafficTools } from '../../types.js';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { formatTable } from '../format-table.js';
import { installShutdownSignals } from '../signals.js';
import { ControlServer } from '../../control/control-server.js';
import { appControlHandler } from '../../service/control-handler.js';
import { HealthService } from '../../health/health-service.js';
import { RedisManager } from '../../redis/redis-manager.js';
import { provideSharedRedis } from '../../redis/shared-redis.js';
import { Autoscaler } from '../../scaling/autoscaler.js';
import { envFileOption } from './routes.js';

/** `routemq start`: load config and routes, connect, serve until SIGINT/SIGTERM. */
export function registerStartCommand(program: Command): void {
  addCommonOptions(program.command('start'))
    .description('load the config and route files, connect, and serve until SIGINT/SIGTERM')
    .option('--traffic <module>', "after start-up, run this module's default export to publish sample traffic")
    .action(async (flags: CommonFlags & { traffic?: string }) => {
      const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
      const logger = createLogger({
        level: config.log.level,
        ...(config.log.pretty !== undefined ? { pretty: config.log.pretty } : {}),
      });
      logger.debug({ config: describeConfig(config) }, 'configuration');
      let broker: MosquittoProcess | undefined;
      const app = new RouteMQApp({ config, logger });
      const redis = new RedisManager(config, logger);
      provideSharedRedis(() => Promise.resolve(redis));
      const autoscaler = new Autoscaler({ config, workers: () => app.workers, redis, events: app.events, logger });
      const health = new HealthService(app, config, logger, redis, () => (app.workers ? autoscaler.view() : undefined));
      const traffic = new AbortController();
      const shutdown = async (): Promise<void> => {
        traffic.abort();
        void health.stop();
        await autoscaler.stop();
        await app.stop();
        await redis.stop();
        await broker?.stop();
      };
      const reload = async (): Promise<void> => {
        await app.workers?.reload();
      };
      const signals = installShutdownSignals(
        async () => {
          await control?.stop();
          await shutdown();
        },
        logger,
        { reload, force: () => app.kill() },
      );
      const control = config.routemq.controlSocket
        ? new ControlServer(
            config.routemq.controlSocket,
            appControlHandler(app, () => health.monitor.sample(), reload, signals.trigger),
            logger,
          )
        : undefined;
      try {
        broker = await ensureDevBroker(config, logger);
        redis.start();
        await health.start();
        await app.start();
        autoscaler.start();
        await control?.start();
      } catch (err) {
        await control?.stop();
        await health.stop();
        await shutdown();
        throw err;
      }
      printStartupTable(app);
      if (flags.traffic) void runTraffic(flags.traffic, app, traffic.signal, logger);
    });
}

async function runTraffic(file: string, app: RouteMQApp, signal: AbortSignal, logger: Logger): Promise<void> {
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
