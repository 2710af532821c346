import { relative } from 'node:path';
import type { Command } from 'commander';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { formatTable } from '../format-table.js';
import { registerTypeScriptLoader } from '../ts-loader.js';

/** One row of `routemq routes --json`. */
export interface RouteRow {
  readonly pattern: string;
  /** The MQTT filter subscribed to (`$share/<group>/…` for a shared route). */
  readonly subscription: string;
  readonly qos: 0 | 1 | 2;
  readonly shared: boolean;
  /** The share group, or `null` for a route that is not shared. */
  readonly group: string | null;
  /** Worker processes of a shared route, or `null` for a main-process route. */
  readonly workers: number | null;
  /** The route file relative to the working directory, or `null` for a route declared in code. */
  readonly file: string | null;
}

/** `routemq routes`: print the route table without connecting. */
export function registerRoutesCommand(program: Command): void {
  addCommonOptions(program.command('routes'))
    .description('print the route table (pattern, subscription, qos, shared, group, workers, file)')
    .option('--json', 'print JSON: qos and workers as numbers, shared as a boolean, null where not applicable')
    .hook('preAction', registerTypeScriptLoader)
    .action(async (flags: CommonFlags & { json?: boolean }) => {
      const { loadConfig } = await import('../../config/load-config.js');
      const { loadRouteFiles } = await import('../../router/discovery.js');
      const { compileRoutes } = await import('../../router/route-table.js');
      const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
      const router = await loadRouteFiles(config.routemq.routersDir);
      const table = compileRoutes(router, { defaultGroup: config.mqtt.groupName });
      const rows = table.routes.map((r): RouteRow => ({
        pattern: r.pattern,
        subscription: r.mqttTopic,
        qos: r.qos,
        shared: r.shared,
        group: r.group ?? null,
        workers: r.shared ? r.workerCount : null,
        file: r.source ? relative(process.cwd(), r.source) : null,
      }));
      process.stdout.write(flags.json ? JSON.stringify(rows, null, 2) + '\n' : formatTable(rows.map(displayRow)));
    });
}

/** The human form of a row: every value a string, `-` where not applicable. */
function displayRow(row: RouteRow): Record<string, string> {
  return {
    pattern: row.pattern,
    subscription: row.subscription,
    qos: String(row.qos),
    shared: row.shared ? 'yes' : 'no',
    group: row.group ?? '-',
    workers: row.workers === null ? '-' : String(row.workers),
    file: row.file ?? '-',
  };
}

/** `--env-file` as a loadConfig option. */
export function envFileOption(flags: CommonFlags): { envFile?: string } {
  return flags.envFile !== undefined ? { envFile: flags.envFile } : {};
}
