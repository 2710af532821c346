import type { ErrorCode } from '../errors.js';
import type { DeadLetterEnvelope } from '../message/dead-letter.js';

/** One dead letter as `routemq dlq ls` lists it. */
export interface DeadLetterSummary {
  readonly id: string;
  readonly route: string;
  readonly topic: string;
  readonly code: string;
  readonly failedAt: string;
  readonly attempts: number;
  readonly payloadBytes: number;
  readonly pool: string | undefined;
  /** When it was last replayed, and to which topic. */
  readonly replayed: ReplayMark | undefined;
}

/** A replay of a dead letter. */
export interface ReplayMark {
  readonly at: string;
  readonly topic: string;
}

/** Which dead letters an operation applies to; every field given must match. No field: all of them. */
export interface DeadLetterFilter {
  readonly ids?: readonly string[];
  /** The route's pattern. */
  readonly route?: string;
  readonly code?: string;
  /** Only those that failed at or after this time (ms since the epoch). */
  readonly since?: number;
}

/** The result of {@link DeadLetterStore.put}: stored, or not (the caller leaves the original unacked). */
export type StoreResult =
  | { readonly ok: true; readonly id: string }
  | {
      readonly ok: false;
      readonly code: Extract<ErrorCode, 'RMQ_ERR_DLQ_STORE_FULL' | 'RMQ_ERR_DLQ_STORE_FAILED'>;
      readonly message: string;
    };

/** How full a store is. */
export interface StoreSize {
  readonly kind: 'file' | 'redis';
  /** Where it is: the spool file, or the Redis stream key. */
  readonly location: string;
  readonly entries: number;
  readonly bytes: number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** The last put was refused for lack of room (cleared by the next put that fits). */
  readonly full: boolean;
}

/**
 * Where dead letters are kept before their original is acked. A `put` resolves only once the dead letter is
 * durable (written and synced to disk, or acknowledged by Redis), and never rejects.
 */
export interface DeadLetterStore {
  /** Read what the store holds. Call once before anything else. */
  open(): Promise<void>;
  put(envelope: DeadLetterEnvelope): Promise<StoreResult>;
  list(filter?: DeadLetterFilter): Promise<DeadLetterSummary[]>;
  get(id: string): Promise<DeadLetterEnvelope | undefined>;
  /** Remove the dead letters that match; resolves with how many. */
  purge(filter: DeadLetterFilter): Promise<number>;
  /** Note a replay of `id`; resolves with the previous replay, if any. */
  markReplayed(id: string, mark: ReplayMark): Promise<ReplayMark | undefined>;
  /** The size as last known (no I/O). */
  size(): StoreSize;
  close(): Promise<void>;
}

/** True when `summary` matches `filter`. */
export function matchesFilter(summary: DeadLetterSummary, filter: DeadLetterFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.ids && !filter.ids.includes(summary.id)) return false;
  if (filter.route !== undefined && summary.route !== filter.route) return false;
  if (filter.code !== undefined && summary.code !== filter.code) return false;
  if (filter.since !== undefined && Date.parse(summary.failedAt) < filter.since) return false;
  return true;
}

/** The summary of a dead letter. */
export function summarize(envelope: DeadLetterEnvelope, replayed: ReplayMark | undefined): DeadLetterSummary {
  return {
    id: envelope.id,
    route: envelope.route,
    topic: envelope.topic,
    code: envelope.error.code,
    failedAt: envelope.failedAt,
    attempts: envelope.attempts,
    payloadBytes: envelope.payloadBytes,
    pool: envelope.pool,
    replayed,
  };
}
