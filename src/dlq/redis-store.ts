import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';
import type { DeadLetterEnvelope } from '../message/dead-letter.js';
import type { RedisManager } from '../redis/redis-manager.js';
import { matchesFilter, summarize } from './store.js';
import type {
  DeadLetterFilter,
  DeadLetterStore,
  DeadLetterSummary,
  ReplayMark,
  StoreResult,
  StoreSize,
} from './store.js';

/** Options of {@link RedisStreamStore}. */
export interface RedisStreamStoreOptions {
  readonly redis: RedisManager;
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** Stop the Redis client on {@link RedisStreamStore.close} (the store made it). @defaultValue false */
  readonly ownsRedis?: boolean;
}

/**
 * Dead letters in a Redis stream, `<ROUTEMQ_REDIS_PREFIX>dlq` (one entry per dead letter, field `e` holding the
 * JSON envelope), for deployments with Redis: every instance of the app then sees one list. Beside it,
 * `dlq:ids` maps a dead letter's id to its stream entry, `dlq:bytes` counts the bytes held and `dlq:replayed`
 * records replays. Never trimmed: a full stream refuses (`RMQ_ERR_DLQ_STORE_FULL`) instead of dropping the oldest.
 *
 * A put resolves once Redis has applied it. How durable that is depends on Redis's persistence: `appendonly yes`
 * with `appendfsync always` loses nothing on a Redis crash, `everysec` up to a second, no persistence everything.
 */
export class RedisStreamStore implements DeadLetterStore {
  readonly #o: RedisStreamStoreOptions;
  #entries = 0;
  /** The puts of this process, one after the other. */
  #queue: Promise<unknown> = Promise.resolve();
  #bytes = 0;
  #full = false;

  constructor(options: RedisStreamStoreOptions) {
    this.#o = options;
  }

  #key(...parts: string[]): string {
    return this.#o.redis.key('dlq', ...parts);
  }

  async open(): Promise<void> {
    await this.#o.redis.whenReady(5000);
    await this.#refresh().catch(() => undefined);
  }

  /**
   * Store one envelope. Puts of this process run one at a time: the check against the limits reads the stream's
   * length, and two puts interleaved around that read counted an entry twice (a stream of 1 reported full at 2).
   * Instances sharing the stream still race each other: the limits hold per process, within a few entries overall.
   */
  put(envelope: DeadLetterEnvelope): Promise<StoreResult> {
    const run = this.#queue.then(() => this.#put(envelope));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #put(envelope: DeadLetterEnvelope): Promise<StoreResult> {
    const client = this.#o.redis.readyClient();
    if (!client) return failed('Redis is not connected');
    try {
      await this.#refresh();
      const line = JSON.stringify(envelope);
      const bytes = Buffer.byteLength(line);
      if (this.#entries + 1 > this.#o.maxEntries || this.#bytes + bytes > this.#o.maxBytes) {
        this.#full = true;
        return {
          ok: false,
          code: ErrorCodes.DLQ_STORE_FULL,
          message:
            `The dead-letter stream ${this.#key()} is full (${this.#entries} of ${this.#o.maxEntries} entries, ` +
            `${this.#bytes} of ${this.#o.maxBytes} bytes)`,
        };
      }
      const streamId = await client.xadd(this.#key(), '*', 'id', envelope.id, 'e', line);
      await client
        .multi()
        .hset(this.#key('ids'), envelope.id, streamId ?? '')
        .incrby(this.#key('bytes'), bytes)
        .exec();
      this.#entries++;
      this.#bytes += bytes;
      this.#full = false;
      return { ok: true, id: envelope.id };
    } catch (err) {
      return failed(errorMessageOf(err));
    }
  }

  async list(filter?: DeadLetterFilter): Promise<DeadLetterSummary[]> {
    const client = this.#client();
    const [entries, replayed] = await Promise.all([
      client.xrange(this.#key(), '-', '+'),
      client.hgetall(this.#key('replayed')),
    ]);
    const result: DeadLetterSummary[] = [];
    for (const [, fields] of entries) {
      const envelope = parseEntry(fields);
      if (!envelope) continue;
      const mark = replayed[envelope.id];
      const summary = summarize(envelope, mark ? (JSON.parse(mark) as ReplayMark) : undefined);
      if (matchesFilter(summary, filter)) result.push(summary);
    }
    return result;
  }

  async get(id: string): Promise<DeadLetterEnvelope | undefined> {
    const client = this.#client();
    const streamId = await client.hget(this.#key('ids'), id);
    if (!streamId) return undefined;
    const [entry] = await client.xrange(this.#key(), streamId, streamId);
    return entry ? parseEntry(entry[1]) : undefined;
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const client = this.#client();
    const entries = await client.xrange(this.#key(), '-', '+');
    const streamIds: string[] = [];
    const ids: string[] = [];
    let bytes = 0;
    for (const [streamId, fields] of entries) {
      const envelope = parseEntry(fields);
      if (!envelope || !matchesFilter(summarize(envelope, undefined), filter)) continue;
      streamIds.push(streamId);
      ids.push(envelope.id);
      bytes += Buffer.byteLength(fields[fields.indexOf('e') + 1] ?? '');
    }
    if (streamIds.length === 0) return 0;
    await client
      .multi()
      .xdel(this.#key(), ...streamIds)
      .hdel(this.#key('ids'), ...ids)
      .decrby(this.#key('bytes'), bytes)
      .exec();
    this.#full = false;
    await this.#refresh();
    return streamIds.length;
  }

  async markReplayed(id: string, mark: ReplayMark): Promise<ReplayMark | undefined> {
    const client = this.#client();
    const previous = await client.hget(this.#key('replayed'), id);
    await client.hset(this.#key('replayed'), id, JSON.stringify(mark));
    return previous ? (JSON.parse(previous) as ReplayMark) : undefined;
  }

  size(): StoreSize {
    return {
      kind: 'redis',
      location: this.#key(),
      entries: this.#entries,
      bytes: this.#bytes,
      maxEntries: this.#o.maxEntries,
      maxBytes: this.#o.maxBytes,
      full: this.#full,
    };
  }

  async close(): Promise<void> {
    if (this.#o.ownsRedis) await this.#o.redis.stop();
  }

  /** Read the entry and byte counts (another instance may have added or purged). */
  async #refresh(): Promise<void> {
    const client = this.#client();
    const [entries, bytes] = await Promise.all([client.xlen(this.#key()), client.get(this.#key('bytes'))]);
    this.#entries = entries;
    this.#bytes = Number(bytes ?? 0);
  }

  #client(): NonNullable<ReturnType<RedisManager['readyClient']>> {
    const client = this.#o.redis.readyClient();
    if (!client)
      throw new RouteMQError(ErrorCodes.REDIS_UNAVAILABLE, `Redis is not connected: cannot read ${this.#key()}`);
    return client;
  }
}

function failed(detail: string): StoreResult {
  return {
    ok: false,
    code: ErrorCodes.DLQ_STORE_FAILED,
    message: `Could not write the dead-letter stream: ${detail}`,
  };
}

function parseEntry(fields: readonly string[]): DeadLetterEnvelope | undefined {
  const at = fields.indexOf('e');
  try {
    return at >= 0 ? (JSON.parse(fields[at + 1] ?? '') as DeadLetterEnvelope) : undefined;
  } catch {
    return undefined;
  }
}
