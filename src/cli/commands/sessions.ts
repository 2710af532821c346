import type { Command } from 'commander';
import type { ConfigVariable, ResolvedConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { SessionEntry } from '../../sessions/session-list.js';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { formatTable } from '../format-table.js';
import { registerTypeScriptLoader } from '../ts-loader.js';
import { envFileOption } from './routes.js';

/**
 * What `sessions ls` and `sessions end` read: the broker connection, the registry's place (prefix, app, group) and
 * the grace. Nothing else, so a variable meant for the app (`ROUTEMQ_CONCURRENCY=banana`) cannot stop them.
 */
const REGISTRY_VARIABLES: readonly ConfigVariable[] = [
  'NODE_ENV',
  'MQTT_BROKER',
  'MQTT_PORT',
  'MQTT_USERNAME',
  'MQTT_PASSWORD',
  'MQTT_CLIENT_ID',
  'MQTT_GROUP_NAME',
  'MQTT_PROTOCOL_VERSION',
  'MQTT_KEEPALIVE_S',
  'MQTT_CONNECT_TIMEOUT_MS',
  'MQTT_TLS_CA',
  'MQTT_TLS_CERT',
  'MQTT_TLS_KEY',
  'MQTT_TLS_INSECURE',
  'LOG_LEVEL',
  'LOG_PRETTY',
  'ROUTEMQ_APP_NAME',
  'ROUTEMQ_REGISTRY_PREFIX',
  'ROUTEMQ_ORPHAN_GRACE_S',
];

interface SessionsFlags extends CommonFlags {
  readonly json?: boolean;
  readonly dryRun?: boolean;
  readonly force?: boolean;
}

/** `routemq sessions ls|adopt|end`: the session registry, from the broker alone (no running app needed). */
export function registerSessionsCommand(program: Command): void {
  const sessions = program
    .command('sessions')
    .description("list, adopt or end this app and group's persistent sessions (reads the registry on the broker)");

  addCommonOptions(sessions.command('ls'))
    .description(
      'list every session: client id, instance, pool, state (live/leaving/away/orphaned/adopting), age, deploy',
    )
    .option('--json', 'print JSON')
    .action(async (flags: SessionsFlags) => {
      const { listSessionsCommand } = await import('../../service/session-commands.js');
      const config = await registryConfig(flags);
      const list = await listSessionsCommand(config, await logger(config));
      if (flags.json) {
        const out = { app: config.routemq.appName, group: config.mqtt.groupName, sessions: list };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        `app ${config.routemq.appName}, group ${config.mqtt.groupName}: ${list.length} session(s) ` +
          `(orphaned after ${config.routemq.orphanGraceS} s away)\n`,
      );
      process.stdout.write(formatTable(list.map(row)));
    });

  addCommonOptions(sessions.command('adopt'))
    .argument('<clientId>', 'the session to adopt (see routemq sessions ls)')
    .description(
      "drain a session through this app's routes (as a live instance does after the grace), then end it and " +
        'remove its record; refused while its owner runs it',
    )
    .option('--dry-run', 'check and print what it would do; change nothing')
    .option('--json', 'print JSON')
    .hook('preAction', registerTypeScriptLoader)
    .action(async (clientId: string, flags: SessionsFlags) => {
      const { loadConfig } = await import('../../config/load-config.js');
      const { adoptSessionCommand } = await import('../../service/session-commands.js');
      // The messages run through the app's routes, with its retries, timeouts and dead-letter topic: all of it.
      const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
      const report = await adoptSessionCommand({
        config,
        logger: await logger(config),
        clientId,
        dryRun: flags.dryRun ?? false,
      });
      if (flags.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const s = report.session;
      if (report.dryRun) {
        process.stdout.write(
          `dry run: would adopt ${s.clientId} (pool ${s.pool}, owner ${s.instance}, ${describe(s)}): connect under ` +
            `its client id, run what it holds through ${report.routes} route(s) of ${config.routemq.routersDir} ` +
            `(a message no route matches is dead-lettered with RMQ_ERR_NO_ROUTE), unsubscribe ` +
            `${s.filters.join(', ') || '(nothing)'}, end the session and remove its record\n`,
        );
        return;
      }
      const r = report.result;
      process.stdout.write(
        `adopted ${s.clientId} (pool ${s.pool}, owner ${s.instance}): ${r?.handled ?? 0} handled, ` +
          `${r?.deadLettered ?? 0} dead-lettered; the session is ended and its record removed\n`,
      );
    });

  addCommonOptions(sessions.command('end'))
    .argument('<clientId>', 'the session to end (see routemq sessions ls)')
    .description(
      'end a session WITHOUT handling what it holds (its queued messages are discarded) and remove its record; ' +
        'refused while its owner runs it, unless --force',
    )
    .option('--dry-run', 'check and print what it would do; change nothing')
    .option('--force', 'end it even though its owner is live or another instance adopts it')
    .option('--json', 'print JSON')
    .action(async (clientId: string, flags: SessionsFlags) => {
      const { endSessionCommand } = await import('../../service/session-commands.js');
      const config = await registryConfig(flags);
      const report = await endSessionCommand({
        config,
        logger: await logger(config),
        clientId,
        dryRun: flags.dryRun ?? false,
        force: flags.force ?? false,
      });
      const s = report.session;
      if (report.forced) {
        process.stderr.write(
          `routemq: warning: session ${s.clientId} is ${s.state} (owner ${s.instance}); with --force, what it holds ` +
            'is discarded unhandled, and a client connected under its id is disconnected (a RouteMQ slot then ' +
            'reports RMQ_ERR_MQTT_SESSION_TAKEN_OVER and restarts)\n',
        );
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const instance = report.instanceRemoved ? ` and instance ${s.instance}'s record` : '';
      process.stdout.write(
        report.dryRun
          ? `dry run: would end ${s.clientId} (pool ${s.pool}, owner ${s.instance}, ${describe(s)}): connect under ` +
              `its client id with a clean start and session expiry 0 (the broker discards the session and the ` +
              `messages it holds, unhandled), and remove its record${instance}\n`
          : `ended ${s.clientId} (pool ${s.pool}, owner ${s.instance}); what it held was discarded unhandled; ` +
              `removed its record${instance}\n`,
      );
    });
}

async function registryConfig(flags: SessionsFlags): Promise<ResolvedConfig> {
  const { loadConfigSubset } = await import('../../config/load-config.js');
  return loadConfigSubset(REGISTRY_VARIABLES, { overrides: overridesFromFlags(flags), ...envFileOption(flags) });
}

/** Logs go to stderr: stdout is the command's answer (a table or JSON). */
async function logger(config: ResolvedConfig): Promise<Logger> {
  const { createLogger } = await import('../../logger.js');
  return createLogger({
    level: config.log.level,
    stderr: true,
    ...(config.log.pretty !== undefined ? { pretty: config.log.pretty } : {}),
  });
}

function row(s: SessionEntry): Record<string, string> {
  return {
    'client id': s.clientId,
    instance: s.instance,
    pool: s.pool,
    state: s.state === 'adopting' ? `adopting (${s.adoptedBy ?? '?'})` : s.state,
    age: age(s.ageS),
    deploy: s.deploy,
  };
}

function describe(s: SessionEntry): string {
  return s.ageS === null ? s.state : `${s.state} for ${age(s.ageS)}`;
}

function age(seconds: number | null): string {
  if (seconds === null) return '?';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}
