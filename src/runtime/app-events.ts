import { EventEmitter } from 'node:events';
import type { RouteMQError } from '../errors.js';
import type { LifecycleEventName, LifecycleEvents } from '../events.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import type { WorkerManager } from '../worker/worker-manager.js';
import type { WorkerManagerEvents } from '../worker/worker-manager-types.js';

/** Lifecycle event names, as `/events` and the dashboard show them (see `events.ts`). */
export type AppEventType = LifecycleEventName;

/** One lifecycle event: its name, when it happened (`Date.now()`), and its payload. */
export type AppEvent = {
  readonly [K in LifecycleEventName]: { readonly type: K; readonly at: number; readonly data: LifecycleEvents[K] };
}[LifecycleEventName];

/** Events of {@link AppEvents}. */
export interface AppEventsMap {
  event: [AppEvent];
  /** A worker exited, with its last counters (for metrics that must not lose them). */
  retired: [pid: number | undefined, stats: MessageStatsSnapshot | undefined];
  /** A worker slot that left for good ended this session and exited cleanly: its registry record can go. */
  'session.ended': [clientId: string];
  /** A scale-down began: the sessions of the slots that leave are now `leaving`. */
  'sessions.leaving': [];
  /** The main connection gave up for good (its session was taken over, the credentials were refused). */
  fatal: [error: RouteMQError];
}

/** The WorkerManager's events that go on the stream: all of them, under the same names. */
const FORWARDED: readonly (keyof WorkerManagerEvents & LifecycleEventName)[] = [
  'worker.started',
  'worker.exited',
  'worker.restarted',
  'worker.stuck',
  'pool.degraded',
  'pool.scaled',
  'message.dead_lettered',
];

/** One stream of the app's lifecycle events: the WorkerManager's, plus the main process's and the autoscaler's. */
export class AppEvents extends EventEmitter<AppEventsMap> {
  /** Publish an event. */
  publish<K extends LifecycleEventName>(type: K, data: LifecycleEvents[K]): void {
    this.emit('event', { type, at: Date.now(), data: { ...data } } as AppEvent);
  }

  /** Forward a WorkerManager's events. */
  follow(manager: WorkerManager): void {
    manager.on('slots.leaving', () => this.emit('sessions.leaving'));
    manager.on('worker.exited', (e) => {
      this.emit('retired', e.pid, e.stats);
      if (e.endedSession !== undefined) this.emit('session.ended', e.endedSession);
    });
    for (const type of FORWARDED) {
      manager.on(type, (payload: object) => {
        // Counters are for metrics, the ended session for the registry: neither is for the event stream.
        const { stats: _stats, endedSession: _ended, ...data } = payload as { stats?: unknown; endedSession?: unknown };
        this.publish(type, data as LifecycleEvents[typeof type]);
      });
    }
  }
}
