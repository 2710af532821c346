import type { Command } from 'commander';
import type { ResolvedConfig } from '../../config/schema.js';
import type { DeadLetterFilterInput, ReplayOutcome } from '../../dlq/dead-letter-actions.js';
import type * as DeadLetterActions from '../../dlq/dead-letter-actions.js';
import type { DeadLetterStore } from '../../dlq/store.js';
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

// The store, the actions and MQTT load inside the actions, so `routemq --help` does not pay for them.
const actions = (): Promise<typeof DeadLetterActions> => import('../../dlq/dead-letter-actions.js');

async function openStore(flags: DlqFlags): Promise<{ config: ResolvedConfig; store: DeadLetterStore }> {
  const { loadConfig } = await import('../../config/load-config.js');
  const { createDeadLetterStore } = await import('../../dlq/create-store.js');
  const { silentLogger } = await import('../../logger.js');
  const config = loadConfig({ overrides: overridesFromFlags(flags), ...envFileOption(flags) });
  // Read only: beside a running app, the CLI only appends to the purge and replay logs.
  return { config, store: await createDeadLetterStore(config, silentLogger(), { readOnly: true }) };
}

function filterInput(flags: DlqFlags): DeadLetterFilterInput {
  return { route: flags.route, code: flags.code, since: flags.since };
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
      const { listDeadLetters, parseDeadLetterFilter } = await actions();
      const { items: list } = await listDeadLetters(store, parseDeadLetterFilter(filterInput(flags))).finally(() =>
        store.close(),
      );
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
      const { showDeadLetter } = await actions();
      const envelope = await showDeadLetter(store, id).finally(() => store.close());
      process.stdout.write(JSON.stringify(envelope, null, 2) + '\n');
    });
  withFilters(dlq.command('replay [id]'))
    .description('republish dead letters with their original topic, QoS and properties (+ routemq-replayed)')
    .option('--all', 'every dead letter (or every one the filters match)')
    .option('--to-topic <topic>', 'publish to this topic instead of the original')
    .action(async (id: string | undefined, flags: DlqFlags) => {
      const { config, store } = await openStore(flags);
      try {
        const selection = { ...filterInput(flags), id, all: flags.all, toTopic: flags.toTopic };
        const ids = await (await actions()).selectForReplay(store, selection);
        const replayed = await replay(config, store, ids, flags.toTopic);
        for (const r of replayed) {
          if (r.previous)
            process.stderr.write(`warning: ${r.id} was already replayed at ${r.previous.at} to ${r.previous.topic}\n`);
        }
        const printed = replayed.map((r) => ({ id: r.id, topic: r.topic, previous: r.previous?.at }));
        if (flags.json) process.stdout.write(JSON.stringify(printed, null, 2) + '\n');
        else process.stdout.write(`replayed ${replayed.length}\n`);
      } finally {
        await store.close();
      }
    });
  withFilters(dlq.command('purge'))
    .description('remove dead letters from the store (those the filters match; --all for every one)')
    .option('--all', 'every dead letter')
    .action(async (flags: DlqFlags) => {
      const { store } = await openStore(flags);
      const selection = { ...filterInput(flags), all: flags.all };
      const { purgeDeadLetters } = await actions();
      const purged = await purgeDeadLetters(store, selection).finally(() => store.close());
      process.stdout.write(flags.json ? JSON.stringify({ purged }) + '\n' : `purged ${purged}\n`);
    });
}

/** Republish each dead letter over a connection of its own (see {@link replayDeadLetters}). */
async function replay(
  config: ResolvedConfig,
  store: DeadLetterStore,
  ids: readonly string[],
  toTopic: string | undefined,
): Promise<ReplayOutcome[]> {
  if (ids.length === 0) return [];
  const { default: mqtt } = await import('mqtt');
  const { silentLogger } = await import('../../logger.js');
  const { connectionOptionsFromConfig } = await import('../../mqtt/connection-options.js');
  const { replayDeadLetters } = await actions();
  const options = connectionOptionsFromConfig(config, 'dlq-replay', silentLogger());
  const { properties: _properties, ...base } = options.client;
  const client = await mqtt.connectAsync(options.url, {
    ...base,
    clientId: `${base.clientId ?? 'routemq'}-replay-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
  });
  try {
    return await replayDeadLetters(
      store,
      ids,
      async (topic, payload, publishOptions) => void (await client.publishAsync(topic, payload, publishOptions)),
      { toTopic, protocolVersion: config.mqtt.protocolVersion },
    );
  } finally {
    await client.endAsync();
  }
}
