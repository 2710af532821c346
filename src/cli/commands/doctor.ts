import type { Command } from 'commander';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { formatTable } from '../format-table.js';
import { registerTypeScriptLoader } from '../ts-loader.js';
import { envFileOption } from './routes.js';

/** `routemq doctor`: check the broker against the app before any traffic. Exits 1 when a check fails. */
export function registerDoctorCommand(program: Command): void {
  addCommonOptions(program.command('doctor'))
    .description('check connection, credentials, $share balancing and read access to every route topic')
    .option('--json', 'print JSON')
    .hook('preAction', registerTypeScriptLoader)
    .action(async (flags: CommonFlags & { json?: boolean }) => {
      const { loadConfig } = await import('../../config/load-config.js');
      const { runDoctor } = await import('../../doctor/doctor.js');
      const { silentLogger } = await import('../../logger.js');
      const { loadRouteFiles } = await import('../../router/discovery.js');
      const { compileRoutes } = await import('../../router/route-table.js');
      const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
      const table = compileRoutes(await loadRouteFiles(config.routemq.routersDir), {
        defaultGroup: config.mqtt.groupName,
      });
      const checks = await runDoctor(config, table, silentLogger());
      if (flags.json) {
        process.stdout.write(JSON.stringify(checks, null, 2) + '\n');
      } else {
        const rows = checks.map((c) => ({
          status: c.status.toUpperCase(),
          check: c.check,
          detail: c.detail,
          fix: c.fix ?? '',
        }));
        process.stdout.write(formatTable(rows));
      }
      if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
    });
}
