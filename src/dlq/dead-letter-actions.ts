/**
 * @module
 * The dead-letter actions behind both `routemq dlq` and the health server's `/dead-letters` API: list, show,
 * replay and purge, with one validation of their arguments, so the CLI and HTTP cannot diverge.
 */
import { ErrorCodes, RouteMQError } from '../errors.js';
import { deadLetterPayload, originalProperties } from '../message/dead-letter.js';
import type { DeadLetterEnvelope } from '../message/dead-letter.js';
import type { PublishOptions, QoS } from '../types.js';
import type { DeadLetterFilter, DeadLetterStore, DeadLetterSummary, ReplayMark } from './store.js';

/** The most dead letters one list page (or one bulk replay over HTTP) covers. */
export const MAX_DEAD_LETTER_PAGE = 1000;
/** The page size when none is given. */
export const DEFAULT_DEAD_LETTER_PAGE = 100;

/** Filters as the CLI flags and the HTTP query give them (strings, unchecked). */
export interface DeadLetterFilterInput {
  readonly route?: string | undefined;
  readonly code?: string | undefined;
  /** An ISO 8601 time. */
  readonly since?: string | undefined;
}

/**
 * The store filter of `input`: route pattern, error code, and `since` as ms since the epoch.
 *
 * @throws RouteMQError `RMQ_ERR_DLQ_REQUEST_INVALID` when `since` is not a date.
 */
export function parseDeadLetterFilter(input: DeadLetterFilterInput): DeadLetterFilter {
  const since = input.since === undefined ? undefined : Date.parse(input.since);
  if (since !== undefined && Number.isNaN(since)) {
    throw invalid(`since '${input.since}' is not a date (ISO 8601, e.g. 2026-01-31T12:00:00Z)`);
  }
  return {
    ...(input.route !== undefined ? { route: input.route } : {}),
    ...(input.code !== undefined ? { code: input.code } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}

/** One page of {@link listDeadLetters}. */
export interface DeadLetterPage {
  /** The matching dead letters from `offset`, at most `limit`, oldest first. */
  readonly items: readonly DeadLetterSummary[];
  /** How many match in all. */
  readonly total: number;
}

/**
 * The dead letters that match `filter`, oldest first, paged.
 *
 * @param page.limit - at most this many items, 0..{@link MAX_DEAD_LETTER_PAGE}. @defaultValue every match
 * @param page.offset - skip this many matches first. @defaultValue 0
 * @throws RouteMQError `RMQ_ERR_DLQ_REQUEST_INVALID` for a limit or offset out of range.
 */
export async function listDeadLetters(
  store: DeadLetterStore,
  filter: DeadLetterFilter,
  page: { readonly limit?: number | undefined; readonly offset?: number | undefined } = {},
): Promise<DeadLetterPage> {
  const { limit, offset = 0 } = page;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0 && limit <= MAX_DEAD_LETTER_PAGE)) {
    throw invalid(`limit ${String(limit)} is not a whole number from 0 to ${MAX_DEAD_LETTER_PAGE}`);
  }
  if (!(Number.isInteger(offset) && offset >= 0)) throw invalid(`offset ${String(offset)} is not a whole number ≥ 0`);
  const all = await store.list(filter);
  return { items: all.slice(offset, limit === undefined ? undefined : offset + limit), total: all.length };
}

/**
 * One dead letter's whole envelope.
 *
 * @throws RouteMQError `RMQ_ERR_DLQ_NOT_FOUND` when the store has no dead letter `id`.
 */
export async function showDeadLetter(store: DeadLetterStore, id: string): Promise<DeadLetterEnvelope> {
  const envelope = await store.get(id);
  if (!envelope) throw notFound(id);
  return envelope;
}

/** What to replay: one id, or every match of the filters (`all` without filters: every dead letter). */
export interface ReplaySelection extends DeadLetterFilterInput {
  readonly id?: string | undefined;
  readonly all?: boolean | undefined;
  /** Publish here instead of each one's original topic. */
  readonly toTopic?: string | undefined;
}

/** One replayed dead letter. */
export interface ReplayOutcome {
  readonly id: string;
  /** The topic it was published to. */
  readonly topic: string;
  /** The earlier replay of this id, when it had been replayed before (a warning: the handler runs again). */
  readonly previous: ReplayMark | undefined;
}

/** Publishes one replayed message; resolves on the broker's ack (QoS ≥ 1). */
export type ReplayPublish = (
  topic: string,
  payload: Buffer,
  options: { readonly qos: QoS; readonly properties?: PublishOptions['properties'] },
) => Promise<void>;

/**
 * The ids `selection` names, oldest first, checked before anything is published: an id, or `route`/`code`/`since`
 * filters, or `all`.
 *
 * @throws RouteMQError `RMQ_ERR_DLQ_REQUEST_INVALID` when it names neither an id, a route, a code nor `all`, or
 *   `toTopic` is not a topic name; `RMQ_ERR_DLQ_NOT_FOUND` for an unknown id.
 */
export async function selectForReplay(store: DeadLetterStore, selection: ReplaySelection): Promise<string[]> {
  if (selection.toTopic !== undefined) checkTopicName(selection.toTopic);
  if (selection.id !== undefined) {
    const list = await store.list({ ids: [selection.id] });
    if (list.length === 0) throw notFound(selection.id);
    return [selection.id];
  }
  if (!selection.all && selection.route === undefined && selection.code === undefined) {
    throw invalid('Name an id, or give a route, a code or all');
  }
  const list = await store.list(parseDeadLetterFilter(selection));
  return list.map((s) => s.id);
}

/**
 * Republish each dead letter with its original topic (or `toTopic`), QoS, and, on MQTT 5, its original properties
 * plus a `routemq-replayed: <id>` user property; then note the replay in the store. A dead letter replayed before
 * is replayed again, and its outcome carries the earlier replay so the caller can warn. Ids no longer in the store
 * (purged meanwhile) are skipped. Stops at the first publish that fails.
 *
 * @throws whatever `publish` rejects with (the replays before it are done and noted).
 */
export async function replayDeadLetters(
  store: DeadLetterStore,
  ids: readonly string[],
  publish: ReplayPublish,
  options: { readonly toTopic?: string | undefined; readonly protocolVersion: 3 | 4 | 5 },
): Promise<ReplayOutcome[]> {
  const done: ReplayOutcome[] = [];
  for (const id of ids) {
    const envelope = await store.get(id);
    if (!envelope) continue;
    const topic = options.toTopic ?? envelope.topic;
    await publish(topic, deadLetterPayload(envelope), {
      qos: envelope.qos === 2 ? 2 : envelope.qos === 1 ? 1 : 0,
      ...(options.protocolVersion === 5
        ? { properties: originalProperties(envelope, [['routemq-replayed', id]]) }
        : {}),
    });
    const previous = await store.markReplayed(id, { at: new Date().toISOString(), topic });
    done.push({ id, topic, previous });
  }
  return done;
}

/** What to purge: one id, or every match of the filters; `all` is needed to purge without any filter. */
export interface PurgeSelection extends DeadLetterFilterInput {
  readonly id?: string | undefined;
  readonly all?: boolean | undefined;
}

/**
 * Remove dead letters from the store; resolves with how many.
 *
 * @throws RouteMQError `RMQ_ERR_DLQ_REQUEST_INVALID` when it names no id, no filter and not `all` (so an empty
 *   filter never purges everything by accident); `RMQ_ERR_DLQ_NOT_FOUND` for an id not in the store.
 */
export async function purgeDeadLetters(store: DeadLetterStore, selection: PurgeSelection): Promise<number> {
  if (selection.id !== undefined) {
    const purged = await store.purge({ ids: [selection.id] });
    if (purged === 0) throw notFound(selection.id);
    return purged;
  }
  const filter = parseDeadLetterFilter(selection);
  if (!selection.all && Object.keys(filter).length === 0) throw invalid('Give a route, a code, a since or all');
  return store.purge(filter);
}

/**
 * @throws RouteMQError `RMQ_ERR_DLQ_REQUEST_INVALID` unless `topic` is a topic name one may publish to: not
 *   empty, no `+` or `#` wildcard, no NUL, at most 65,535 bytes (MQTT 5 §4.7, §1.5.4).
 */
export function checkTopicName(topic: string): void {
  if (topic === '' || /[+#]/.test(topic) || topic.includes('\u0000') || Buffer.byteLength(topic) > 65_535) {
    throw invalid(`'${topic}' is not a topic name to publish to (not empty, no + or # wildcards)`);
  }
}

function invalid(message: string): RouteMQError {
  return new RouteMQError(ErrorCodes.DLQ_REQUEST_INVALID, message);
}

function notFound(id: string): RouteMQError {
  return new RouteMQError(ErrorCodes.DLQ_NOT_FOUND, `No dead letter '${id}'; see \`routemq dlq ls\``);
}
