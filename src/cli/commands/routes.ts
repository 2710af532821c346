import { relative } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { loadRouteFiles } from '../../router/discovery.js';
import { compileRoutes } from '../../router/route-table.js';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { formatTable } from '../format-table.js';

/** `routemq routes`: print the route table without connecting. */
export function registerRoutesCommand(program: Command): void {
  addCommonOptions(program.command('routes'))
    .description('print the route table (pattern, subscription, qos, shared, group, workers, file)')
    .option('--json', 'print JSON')
    .action(async (flags: CommonFlags & { json?: boolean }) => {
      const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
      const router = await loadRouteFiles(config.routemq.routersDir);
      const table = compileRoutes(router, { defaultGroup: config.mqtt.groupName });
      const rows = table.routes.map((r) => ({
        pattern: r.pattern,
        subscription: r.mqttTopic,
        qos: String(r.qos),
        shared: r.shared ? 'yes' : 'no',
        group: r.group ?? '-',
        workers: r.shared ? String(r.workerCount) : '-',
        file: r.source ? relative(process.cwd(), r.source) : '-',
      }));
      process.stdout.write(flags.json ? JSON.stringify(rows, null, 2) + '\n' : formatTable(rows));
    });
}

/** `--env-file` as a loadConfig option. */
export function envFileOption(flags: CommonFlags): { envFile?: string } {
  return flags.envFile !== undefined ? { envFile: flags.envFile } : {};
}
