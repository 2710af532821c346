import type { Command } from 'commander';
import type { ControlRequest } from '../../control/protocol.js';
import { ErrorCodes, RouteMQError } from '../../errors.js';
import type { HealthSnapshot } from '../../health/health-monitor.js';
import { formatStatus } from '../status-view.js';
import { watchStatus } from '../status-watch.js';
import type { ReloadResult } from '../../runtime/app.js';
import { envFileOption } from './routes.js';

interface ControlFlags {
  readonly socket?: string;
  readonly envFile?: string;
  readonly json?: boolean;
  readonly watch?: boolean;
}

/** The socket from `--socket`, else `ROUTEMQ_CONTROL_SOCKET` (environment, then `.env`), else its default. */
async function socketPath(flags: ControlFlags): Promise<string> {
  if (flags.socket) return flags.socket;
  const { loadControlSocketPath } = await import('../../config/load-config.js');
  // Only this one variable: the rest of the config is the running instance's business, not this command's.
  const path = loadControlSocketPath({ ...envFileOption(flags) });
  if (!path) {
    throw new RouteMQError(
      ErrorCodes.CONTROL_UNREACHABLE,
      'ROUTEMQ_CONTROL_SOCKET is "none": there is no control socket',
    );
  }
  return path;
}

function withSocket(command: Command): Command {
  return command
    .option('--socket <path>', 'control socket of the running instance (ROUTEMQ_CONTROL_SOCKET)')
    .option('--env-file <path>', 'read this file instead of ./.env')
    .option('--json', 'print JSON');
}

async function run(flags: ControlFlags, request: ControlRequest): Promise<unknown> {
  const { sendControlRequest } = await import('../../control/control-client.js');
  const result = await sendControlRequest(await socketPath(flags), request);
  if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return result;
}

/** `routemq status|reload|stop|scale|worker restart`: talk to a running `routemq start` over its control socket. */
export function registerControlCommands(program: Command): void {
  withSocket(program.command('status'))
    .description('show pools and workers of the running instance; exits 1 when it is not ready')
    .option('--watch', 'redraw the table in place every second until Ctrl-C (then exit 0)')
    .action(async (flags: ControlFlags) => {
      if (flags.watch) {
        const path = await socketPath(flags);
        const { sendControlRequest } = await import('../../control/control-client.js');
        return watchStatus({
          fetch: async () => (await sendControlRequest(path, { cmd: 'status' })) as HealthSnapshot,
          write: (text) => process.stdout.write(text),
        });
      }
      const status = (await run(flags, { cmd: 'status' })) as HealthSnapshot;
      if (!flags.json) process.stdout.write(formatStatus(status));
      if (!status.ready) process.exitCode = 1;
    });
  withSocket(program.command('reload'))
    .description(
      're-read the route files: the main process swaps to the new code, each pool replaces its workers in turn ' +
        '(same as SIGHUP); exits 1, with the running code kept, when the files do not load or need a restart',
    )
    .action(async (flags: ControlFlags) => {
      const result = (await run(flags, { cmd: 'reload' })) as ReloadResult;
      if (!flags.json) process.stdout.write(formatReload(result));
    });
  withSocket(program.command('stop'))
    .description('graceful stop of the running instance (same as SIGTERM)')
    .action(async (flags: ControlFlags) => {
      await run(flags, { cmd: 'stop' });
      if (!flags.json) process.stdout.write('stopping\n');
    });
  withSocket(program.command('scale'))
    .argument('<pool>', 'pool name (see routemq status)')
    .argument('<count>', 'number of workers, ≥ 1')
    .description('resize a worker pool; removed workers drain and end their sessions')
    .action(async (pool: string, count: string, flags: ControlFlags) => {
      // Checked here too, so that `abc` gets the same answer as `0` (the running instance also checks the upper
      // bound, its WORKER_MAX_COUNT).
      const n = /^\d+$/.test(count) ? Number(count) : NaN;
      if (!(n >= 1)) {
        throw new RouteMQError(
          ErrorCodes.ROUTE_OPTION_INVALID,
          `A worker count must be an integer ≥ 1, got '${count}'`,
        );
      }
      await run(flags, { cmd: 'scale', pool, count: n });
      if (!flags.json) process.stdout.write(`pool ${pool} scaled to ${count}\n`);
    });
  const worker = program.command('worker').description('act on one worker');
  withSocket(worker.command('restart'))
    .argument('<workerId>', 'worker id, <pool>-<slot> (see routemq status)')
    .description('restart one worker under the same client id (drains it first)')
    .action(async (workerId: string, flags: ControlFlags) => {
      await run(flags, { cmd: 'restart-worker', workerId });
      if (!flags.json) process.stdout.write(`worker ${workerId} restarted\n`);
    });
}

/** The human form of `routemq reload`: what now runs the new code. */
export function formatReload(result: ReloadResult): string {
  const { main } = result;
  const changes = [...main.subscribed.map((topic) => `+${topic}`), ...main.unsubscribed.map((topic) => `-${topic}`)];
  const lines = [
    `reloaded main process: ${main.routes.length} route(s)${changes.length > 0 ? ` (${changes.join(', ')})` : ''}`,
    ...(result.pools.length > 0 ? [`reloaded pools (rolling): ${result.pools.join(', ')}`] : []),
  ];
  return lines.join('\n') + '\n';
}
