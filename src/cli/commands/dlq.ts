import type { Command } from 'commander';
import type { ResolvedConfig } from '../../config/schema.js';
import type { DeadLetterFilter, DeadLetterStore } from '../../dlq/store.js';
import { ErrorCodes, RouteMQError } from '../../errors.js';
import { addCommonOptions, overridesFromFlags } from '../common-options.js';
import type { CommonFlags } from '../common-options.js';
import { formatTable } from '../format-table.js';
import { envFileOption } from './routes.js';

interface DlqFlags extends CommonFlags {
  readonly json?: boolean;
  readonly route?: string;
  readonly code?: string;
  readonly since?: string;
  readonly all?: boolean;
  readonly toTopic?: string;
}

async function openStore(flags: DlqFlags): Promise<{ config: ResolvedConfig; store: DeadLetterStore }> {
  const { loadConfig } = await import('../../config/load-config.js');
  const { createDeadLetterStore } = await import('../../dlq/create-store.js');
  const { silentLogger } = await import('../../logger.js');
  const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
  // Read only: beside a running app, the CLI only appends to the purge and replay logs.
  return { config, store: await createDeadLetterStore(config, silentLogger(), { readOnly: true }) };
}

function filterOf(flags: DlqFlags): DeadLetterFilter {
  const since = flags.since === undefined ? undefined : Date.parse(flags.since);
  if (since !== undefined && Number.isNaN(since)) {
    throw new RouteMQError(ErrorCodes.CONFIG_INVALID, `--since '${flags.since}' is not a date (ISO 8601)`);
  }
  return {
    ...(flags.route !== undefined ? { route: flags.route } : {}),
    ...(flags.code !== undefined ? { code: flags.code } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}

function withFilters(command: Command): Command {
  return addCommonOptions(command)
    .option('--route <pattern>', "only this route's dead letters")
    .option('--code <code>', 'only this error code')
    .option('--since <time>', 'only those that failed at or after this time (ISO 8601)')
    .option('--json', 'print JSON');
}

/** `routemq dlq ls|show|replay|purge`: the dead-letter store (the Redis stream, or the spool file). */
export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('list, show, replay and purge dead letters');
  withFilters(dlq.command('ls'))
    .description('list the dead letters in the store')
    .action(async (flags: DlqFlags) => {
      const { store } = await openStore(flags);
      const list = await store.list(filterOf(flags));
      await store.close();
      if (flags.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      const rows = list.map((s) => ({
        id: s.id,
        failedAt: s.failedAt,
        route: s.route,
        topic: s.topic,
        code: s.code,
        attempts: String(s.attempts),
        bytes: String(s.payloadBytes),
        replayed: s.replayed?.at ?? '',
      }));
      process.stdout.write(rows.length > 0 ? formatTable(rows) : 'no dead letters\n');
    });
  addCommonOptions(dlq.command('show <id>'))
    .description('print one dead letter (its JSON envelope: the original bytes, properties and failure)')
    .action(async (id: string, flags: DlqFlags) => {
      const { store } = await openStore(flags);
      const envelope = await store.get(id);
      await store.close();
      if (!envelope) throw new RouteMQError(ErrorCodes.DLQ_NOT_FOUND, `No dead letter '${id}'; see \`routemq dlq ls\``);
      process.stdout.write(JSON.stringify(envelope, null, 2) + '\n');
    });
  withFilters(dlq.command('replay [id]'))
    .description('republish dead letters with their original topic, QoS and properties (+ routemq-replayed)')
    .option('--all', 'every dead letter (or every one the filters match)')
    .option('--to-topic <topic>', 'publish to this topic instead of the original')
    .action(async (id: string | undefined, flags: DlqFlags) => {
      const { config, store } = await openStore(flags);
      try {
        const filter = id !== undefined ? { ids: [id] } : filterOf(flags);
        if (id === undefined && !flags.all && flags.route === undefined && flags.code === undefined) {
          throw new RouteMQError(ErrorCodes.CONFIG_INVALID, 'Name an id, or pass --route, --code or --all');
        }
        const list = await store.list(filter);
        if (id !== undefined && list.length === 0) {
          throw new RouteMQError(ErrorCodes.DLQ_NOT_FOUND, `No dead letter '${id}'; see \`routemq dlq ls\``);
        }
        const replayed = await replay(
          config,
          store,
          list.map((s) => s.id),
          flags.toTopic,
        );
        if (flags.json) process.stdout.write(JSON.stringify(replayed, null, 2) + '\n');
        else process.stdout.write(`replayed ${replayed.length}\n`);
      } finally {
        await store.close();
      }
    });
  withFilters(dlq.command('purge'))
    .description('remove dead letters from the store (those the filters match; --all for every one)')
    .option('--all', 'every dead letter')
    .action(async (flags: DlqFlags) => {
      const filter = filterOf(flags);
      if (!flags.all && Object.keys(filter).length === 0) {
        throw new RouteMQError(ErrorCodes.CONFIG_INVALID, 'Pass --route, --code, --since or --all');
      }
      const { store } = await openStore(flags);
      const purged = await store.purge(filter);
      await store.close();
      process.stdout.write(flags.json ? JSON.stringify({ purged }) + '\n' : `purged ${purged}\n`);
    });
}

/** Republish each dead letter; a second replay of one id is done again, with a warning on stderr. */
async function replay(
  config: ResolvedConfig,
  store: DeadLetterStore,
  ids: readonly string[],
  toTopic: string | undefined,
): Promise<{ id: string; topic: string; previous: string | undefined }[]> {
  const { default: mqtt } = await import('mqtt');
  const { silentLogger } = await import('../../logger.js');
  const { deadLetterPayload, originalProperties } = await import('../../message/dead-letter.js');
  const { connectionOptionsFromConfig } = await import('../../mqtt/connection-options.js');
  const options = connectionOptionsFromConfig(config, 'dlq-replay', silentLogger());
  const { properties: _properties, ...base } = options.client;
  const client = await mqtt.connectAsync(options.url, {
    ...base,
    clientId: `${base.clientId ?? 'routemq'}-replay-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
  });
  const done: { id: string; topic: string; previous: string | undefined }[] = [];
  try {
    for (const id of ids) {
      const envelope = await store.get(id);
      if (!envelope) continue;
      const topic = toTopic ?? envelope.topic;
      await client.publishAsync(topic, deadLetterPayload(envelope), {
        qos: envelope.qos === 2 ? 2 : envelope.qos === 1 ? 1 : 0,
        ...(config.mqtt.protocolVersion === 5
          ? { properties: originalProperties(envelope, [['routemq-replayed', id]]) }
          : {}),
      });
      const previous = await store.markReplayed(id, { at: new Date().toISOString(), topic });
      if (previous)
        process.stderr.write(`warning: ${id} was already replayed at ${previous.at} to ${previous.topic}\n`);
      done.push({ id, topic, previous: previous?.at });
    }
  } finally {
    await client.endAsync();
  }
  return done;
}
