import { Command } from 'commander';
import { RouteMQError } from '../errors.js';
import { registerControlCommands } from './commands/control.js';
import { registerDevCommand } from './commands/dev.js';
import { registerDlqCommand } from './commands/dlq.js';
import { registerDocsCommand } from './commands/docs.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerNewCommand } from './commands/new.js';
import { registerRoutesCommand } from './commands/routes.js';
import { registerSessionsCommand } from './commands/sessions.js';
import { registerStartCommand } from './commands/start.js';
import { packageVersion } from './version.js';

// Each command module imports only commander and light helpers at the top; what a command runs (the config, the
// service, MQTT, Redis) is imported inside its action, so `routemq --help` and `--version` load almost nothing.
const program = new Command()
  .name('routemq')
  .description('MQTT consumer framework: typed routes, worker pools on shared subscriptions, at-least-once delivery')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError();

registerStartCommand(program);
registerDevCommand(program);
registerRoutesCommand(program);
registerControlCommands(program);
registerDoctorCommand(program);
registerDlqCommand(program);
registerSessionsCommand(program);
registerDocsCommand(program);
registerNewCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Errors reach the user as one clear line with their code; the stack only at LOG_LEVEL=debug.
  if (err instanceof RouteMQError) {
    process.stderr.write(`routemq: ${err.code}: ${err.message}\n`);
    if (process.env['LOG_LEVEL'] === 'debug' && err.cause instanceof Error) {
      process.stderr.write(`cause: ${err.cause.stack ?? err.cause.message}\n`);
    }
  } else {
    process.stderr.write(`routemq: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = 1;
}
