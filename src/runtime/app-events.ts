import { EventEmitter } from 'node:events';
import type { RouteMQError } from '../errors.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import type { WorkerManager } from '../worker/worker-manager.js';
import type { WorkerManagerEvents } from '../worker/worker-manager-types.js';

/** Lifecycle event names, as `/events` and the dashboard show them. */
export type AppEventType =
  | 'worker.started'
  | 'worker.exited'
  | 'worker.restarted'
  | 'worker.stuck'
  | 'pool.degraded'
  | 'pool.scaled'
  | 'message.dead_lettered'
  | 'scaling.decision'
  | 'scaling.leader';

/** One lifecycle event. */
export interface AppEvent {
  readonly type: AppEventType;
  /** `Date.now()` when it happened. */
  readonly at: number;
  readonly data: Record<string, unknown>;
}

/** Events of {@link AppEvents}. */
export interface AppEventsMap {
  event: [AppEvent];
  /** A worker exited, with its last counters (for metrics that must not lose them). */
  retired: [pid: number | undefined, stats: MessageStatsSnapshot | undefined];
  /** The main connection gave up for good (its session was taken over, the credentials were refused). */
  fatal: [error: RouteMQError];
}

const FORWARDED: readonly [keyof WorkerManagerEvents, AppEventType][] = [
  ['worker:started', 'worker.started'],
  ['worker:exited', 'worker.exited'],
  ['worker:restarted', 'worker.restarted'],
  ['worker:stuck', 'worker.stuck'],
  ['pool:degraded', 'pool.degraded'],
  ['pool:scaled', 'pool.scaled'],
  ['message:dead_lettered', 'message.dead_lettered'],
];

/** One stream of the app's lifecycle events: the WorkerManager's, renamed, plus the main process's dead letters. */
export class AppEvents extends EventEmitter<AppEventsMap> {
  /** Publish an event. */
  publish(type: AppEventType, data: object): void {
    this.emit('event', { type, at: Date.now(), data: { ...data } });
  }

  /** Forward a WorkerManager's events. */
  follow(manager: WorkerManager): void {
    manager.on('worker:exited', (e) => this.emit('retired', e.pid, e.stats));
    for (const [from, to] of FORWARDED) {
      manager.on(from, (payload: object) => {
        // Counters are for metrics, not for the event stream.
        const { stats: _stats, ...data } = payload as { stats?: unknown };
        this.publish(to, data);
      });
    }
  }
}
