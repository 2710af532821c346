/**
 * RouteMQ's lifecycle events and their payloads. Each event has one name end to end: the worker's IPC message, the
 * WorkerProcess's and the WorkerManager's events, the app's event stream, `GET /events`, the Redis stream
 * and the dashboard all spell it the same way.
 *
 * @module
 */

/** Identifies one worker in events. */
export interface WorkerRef {
  readonly pool: string;
  readonly slot: number;
  /** `<pool>-<slot>` */
  readonly workerId: string;
  readonly pid: number | undefined;
}

/** A message that went to the dead-letter topic. */
export interface DeadLetterInfo {
  /** The route's name. */
  readonly route: string;
  /** The topic the message came on. */
  readonly topic: string;
  /** The dead-letter topic it was published to. */
  readonly dlq: string;
  /** The `RMQ_ERR_*` code of the last failure. */
  readonly code: string;
  readonly attempts: number;
}

/** Payload of `pool.degraded`: the pool, its restarts within the window, and the window's length. */
export interface PoolDegradedInfo {
  readonly pool: string;
  readonly restarts: number;
  readonly windowMs: number;
}

/** Payload of `pool.scaled`. */
export interface PoolScaledInfo {
  readonly pool: string;
  readonly from: number;
  readonly to: number;
  /** `'manual'`, or the autoscaler's reason. */
  readonly reason: string;
  /** What the decision was based on (the autoscaler's signals), when it was not manual. */
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/** Payload of `scaling.decision`: the lease holder resized a pool's total, or split it anew between hosts. */
export interface ScalingDecisionInfo {
  readonly pool: string;
  readonly from: number;
  readonly to: number;
  /** Workers per host (instance id). */
  readonly shares: Readonly<Record<string, number>>;
  readonly reason: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  /** The lease's fencing token. */
  readonly token: number;
}

/** Payload of `scaling.leader`: this host took the autoscaler's lease (with its fencing token), or lost it. */
export type ScalingLeaderInfo =
  { readonly leader: true; readonly token: number } | { readonly leader: false; readonly reason: string };

/** Every lifecycle event, by name, with its payload. */
export interface LifecycleEvents {
  /** A worker subscribed; `sessionPresent` tells whether the broker had kept its session. */
  'worker.started': WorkerRef & { readonly sessionPresent: boolean };
  /**
   * A worker process ended; `expected` when the parent asked it to stop. `cause`: `requested` (asked to stop),
   * `crash` (it died after it had started: ready, or handling its session's messages), `failed-start` (it never
   * started: a route file, the broker, a start timeout).
   */
  'worker.exited': WorkerRef & {
    readonly code: number | null;
    readonly signal: string | null;
    readonly expected: boolean;
    readonly cause: 'requested' | 'crash' | 'failed-start';
  };
  /** The supervisor started a fresh worker in a slot after a crash. */
  'worker.restarted': WorkerRef & { readonly restarts: number };
  /** A worker missed its heartbeats and was killed; `topic` is the message it was handling, if any. */
  'worker.stuck': WorkerRef & { readonly topic: string | undefined };
  'pool.degraded': PoolDegradedInfo;
  'pool.scaled': PoolScaledInfo;
  /** A message was dead-lettered, in a worker or (`workerId: 'main'`, no pool) in the main process. */
  'message.dead_lettered': DeadLetterInfo & { readonly workerId: string } & Partial<Omit<WorkerRef, 'workerId'>>;
  'scaling.decision': ScalingDecisionInfo;
  'scaling.leader': ScalingLeaderInfo;
}

/** The name of a lifecycle event, as `/events` and the dashboard show it. */
export type LifecycleEventName = keyof LifecycleEvents;

/** Every lifecycle event name, in the order of {@link LifecycleEvents}. */
export const LIFECYCLE_EVENT_NAMES: readonly LifecycleEventName[] = Object.freeze([
  'worker.started',
  'worker.exited',
  'worker.restarted',
  'worker.stuck',
  'pool.degraded',
  'pool.scaled',
  'message.dead_lettered',
  'scaling.decision',
  'scaling.leader',
]);
