import type { Command } from 'commander';
import { createApp } from '../new-app.js';

/** `routemq new <dir>`: write a new app (README, "Start a new app"). */
export function registerNewCommand(program: Command): void {
  program
    .command('new')
    .description('write a new RouteMQ app: routes, handlers, a route test, tsconfig, .env.example, Dockerfile, compose')
    .argument('<dir>', 'where to write it (new or empty)')
    .option('--name <name>', 'package name (default: from the directory name)')
    .option('--routemq <spec>', 'the routemq dependency, e.g. file:../routemq-0.1.0.tgz (default: ^<this version>)')
    .action(async (dir: string, flags: { name?: string; routemq?: string }) => {
      const files = await createApp({
        dir,
        ...(flags.name !== undefined && { name: flags.name }),
        ...(flags.routemq !== undefined && { routemqSpec: flags.routemq }),
      });
      const where = dir;
      process.stdout.write(
        `Created ${where}:\n${files.map((f) => `  ${f}\n`).join('')}\n` +
          `Next:\n  cd ${where}\n  npm install\n  npm test     # the route tests, no broker needed\n` +
          `  npm start    # routemq start (a development Mosquitto when no broker answers on localhost:1883)\n`,
      );
    });
}
