import type { InHandMessage } from '../message/dispatcher.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import type { DeadLetterInfo } from '../events.js';
import type { TransferableConfig } from '../config/transfer.js';
import type { WorkerLoad } from './load-meter.js';
import type { DeadLetterEnvelope } from '../message/dead-letter.js';
import type { StoreResult } from '../dlq/store.js';
import type { RuntimeSample } from '../util/runtime-meter.js';

/** What a worker needs to know about its slot; sent once, right after fork. */
export interface WorkerAssignment {
  readonly pool: string;
  readonly slot: number;
  readonly clientId: string;
  /** Patterns of the routes this worker serves (checked against what it loads). */
  readonly routes: readonly string[];
  readonly concurrency: number;
  /** The parent's resolved config (with the pool's group and routers applied). */
  readonly config: TransferableConfig;
  readonly heartbeatIntervalMs: number;
  /** The compiled route files to load (the worker bundle's), instead of `ROUTEMQ_ROUTERS_DIR`. */
  readonly routersDir?: string;
  /** The parent stores dead letters (`dlq.put`); without it the worker only publishes them to the topic. */
  readonly storesDeadLetters?: boolean;
  /** Load and compile the route files, report them, and exit without connecting (reload pre-flight). */
  readonly checkOnly?: boolean;
  /**
   * Messages (by `messageKey`) that this slot's earlier processes died with in hand `ROUTEMQ_MAX_CRASHES` times
   * or more, with their death counts: when one is redelivered, dead-letter it with `RMQ_ERR_HANDLER_CRASHED`
   * instead of running it. @defaultValue none
   */
  readonly crashed?: readonly (readonly [key: string, deaths: number])[];
}

/** How a worker should stop: `stop` keeps its session (restart, reload, shutdown); `leave` ends it (scale-down). */
export type ShutdownMode = 'stop' | 'leave';

/** Parent → worker. */
export type ParentMessage =
  | ({ readonly type: 'config' } & WorkerAssignment)
  | { readonly type: 'shutdown'; readonly mode: ShutdownMode; readonly timeoutMs: number }
  /** The answer to a worker's `dlq.put`: the original may be acked once `result.ok`. */
  | { readonly type: 'dlq.stored'; readonly requestId: number; readonly result: StoreResult };

/** Worker → parent. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly pid: number; readonly sessionPresent: boolean }
  | {
      readonly type: 'heartbeat';
      readonly inFlight: number;
      /** The oldest messages in hand, if any. */
      readonly inHand: readonly InHandMessage[];
      readonly sentAt: number;
    }
  | {
      readonly type: 'stats';
      readonly stats: MessageStatsSnapshot;
      readonly memoryRssBytes: number;
      /** The load since the previous stats message. */
      readonly load: WorkerLoad;
      /** Event-loop lag since the previous stats message, GC since start. */
      readonly runtime?: RuntimeSample;
    }
  | { readonly type: 'checked'; readonly routes: readonly string[] }
  | { readonly type: 'failed'; readonly code: string; readonly message: string }
  | { readonly type: 'stopping'; readonly mode: ShutdownMode }
  /** Sent last by a `leave` that drained: the broker was told to drop the session (see `Consumer.endedSession`). */
  | { readonly type: 'session.ended' }
  /** A redelivered (DUP) message is about to run: it is in hand until `message.settled`. Sent before its handler. */
  | { readonly type: 'message.started'; readonly key: string }
  /** A redelivered message's runs ended: `acked` when handled or dead-lettered, false when left unacked. */
  | { readonly type: 'message.settled'; readonly key: string; readonly acked: boolean }
  | ({ readonly type: 'message.dead_lettered' } & DeadLetterInfo)
  /** Store this dead letter (the parent owns the store); answered by `dlq.stored`. */
  | { readonly type: 'dlq.put'; readonly requestId: number; readonly envelope: DeadLetterEnvelope };

const WORKER_TYPES = new Set([
  'ready',
  'heartbeat',
  'stats',
  'checked',
  'failed',
  'stopping',
  'session.ended',
  'message.started',
  'message.settled',
  'message.dead_lettered',
  'dlq.put',
]);
const PARENT_TYPES = new Set(['config', 'shutdown', 'dlq.stored']);

/** Type guard for messages received from a worker. */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  return hasType(value, WORKER_TYPES);
}

/** Type guard for messages received from the parent. */
export function isParentMessage(value: unknown): value is ParentMessage {
  return hasType(value, PARENT_TYPES);
}

function hasType(value: unknown, types: ReadonlySet<string>): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string' &&
    types.has((value as { type: string }).type)
  );
}

/** Exit codes a worker uses, so the parent can tell a refusal from a crash. */
export const WorkerExitCodes = {
  /** Stopped on request. */
  ok: 0,
  /** Failed to start or crashed (route file, broker refused, uncaught error). */
  failed: 1,
  /** Another client took this slot's client id (v5 DISCONNECT 0x8E): do not restart into a kick war. */
  sessionTakenOver: 3,
} as const;
