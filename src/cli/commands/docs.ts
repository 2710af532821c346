import { writeFile } from 'node:fs/promises';
import { Option } from 'commander';
import type { Command } from 'commander';
import { ErrorCodes, RouteMQError } from '../../errors.js';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { registerTypeScriptLoader } from '../ts-loader.js';
import { envFileOption } from './routes.js';

interface DocsFlags extends CommonFlags {
  readonly out?: string;
  readonly format?: 'yaml' | 'json';
}

/** `routemq docs`: write the AsyncAPI 3 document of the routes (see docs/asyncapi.md). Connects to nothing. */
export function registerDocsCommand(program: Command): void {
  addCommonOptions(program.command('docs'))
    .description('write an AsyncAPI 3 document of the routes: channels, receive operations, payload JSON Schemas')
    .option('--out <file>', 'write to this file instead of stdout')
    .addOption(
      new Option('--format <format>', 'yaml or json (default: json for an --out ending in .json, else yaml)').choices([
        'yaml',
        'json',
      ]),
    )
    .hook('preAction', registerTypeScriptLoader)
    .action(async (flags: DocsFlags) => {
      // Loaded here, not with the CLI, so that `routemq --help` does not pay for them.
      const { appAsyncApiDocument } = await import('../../asyncapi/for-app.js');
      const { loadConfig } = await import('../../config/load-config.js');
      const { loadRouteFiles } = await import('../../router/discovery.js');
      const { compileRoutes } = await import('../../router/route-table.js');
      const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
      const table = compileRoutes(await loadRouteFiles(config.routemq.routersDir), {
        defaultGroup: config.mqtt.groupName,
      });
      const document = appAsyncApiDocument(config, table);
      const format = flags.format ?? (flags.out?.toLowerCase().endsWith('.json') ? 'json' : 'yaml');
      // Loaded here, not at start-up: every other command (and --help) goes without it.
      const text =
        format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : (await import('yaml')).stringify(document);
      if (flags.out === undefined) {
        process.stdout.write(text);
        return;
      }
      try {
        await writeFile(flags.out, text);
      } catch (err) {
        const errno = (err as NodeJS.ErrnoException).code ?? 'unknown error';
        throw new RouteMQError(ErrorCodes.FILE_WRITE_FAILED, `Cannot write ${flags.out}: ${errno}`, { cause: err });
      }
      process.stderr.write(`routemq: wrote ${flags.out} (${table.routes.length} channels)\n`);
    });
}
