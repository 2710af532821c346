import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { RouteTable } from '../router/route-table.js';
import type { RouteDeclarationSource } from '../router/router.js';
import type { LifecycleEvents } from '../events.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import type { DeadLetterSink } from '../message/dead-letter-writer.js';

/** Options of {@link WorkerManager}. The seed's names (`groupName`, `routerDirectory`) are kept. */
export interface WorkerManagerOptions {
  readonly config: ResolvedConfig;
  /** The compiled routes; the pools are planned from its shared routes. */
  readonly table?: RouteTable;
  /**
   * The seed's form: a router whose declarations are compiled with `groupName`. Without `table` or `router`, the
   * route files of `routerDirectory` are loaded by {@link WorkerManager.startWorkers}.
   */
  readonly router?: RouteDeclarationSource;
  /** @defaultValue a silent logger */
  readonly logger?: Logger;
  /** Share group default for the workers. @defaultValue `config.mqtt.groupName` */
  readonly groupName?: string;
  /** Route files the workers load. @defaultValue `config.routemq.routersDir` */
  readonly routerDirectory?: string;
  /** The workers' environment. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Node/V8 flags of every worker; a flag the workers' `NODE_OPTIONS` also sets is left out.
   * @defaultValue `['--max-semi-space-size=4']` (see BENCHMARKS.md: peak memory)
   */
  readonly workerExecArgv?: readonly string[];
  /**
   * Stores the workers' dead letters: each worker asks over IPC and acks the original only once it is stored.
   * Without it, a worker's dead letters stay unacked (`RMQ_ERR_DLQ_STORE_FAILED`). `RouteMQApp` always passes one.
   */
  readonly deadLetters?: DeadLetterSink;
}

/**
 * Typed events of {@link WorkerManager}: the lifecycle events of its workers and pools, under their one name and
 * with their payloads from `events.ts`. `worker.exited` also carries the worker's last counters, for metrics, and
 * the session it ended, for the session registry.
 */
export interface WorkerManagerEvents {
  'worker.started': [LifecycleEvents['worker.started']];
  'worker.exited': [
    LifecycleEvents['worker.exited'] & {
      /** The last message counters it reported. */
      readonly stats: MessageStatsSnapshot | undefined;
      /**
       * The client id of the session it ended before exiting cleanly (a slot that left for good: a scale-down, a
       * reload's surge worker); absent when the session was kept or the worker did not exit cleanly.
       */
      readonly endedSession?: string;
    },
  ];
  'worker.restarted': [LifecycleEvents['worker.restarted']];
  'worker.stuck': [LifecycleEvents['worker.stuck']];
  'pool.degraded': [LifecycleEvents['pool.degraded']];
  'pool.scaled': [LifecycleEvents['pool.scaled']];
  'message.dead_lettered': [LifecycleEvents['message.dead_lettered']];
  /** A scale-down begins: the workers of slots `to` and above start to leave (not a lifecycle event). */
  'slots.leaving': [{ readonly pool: string; readonly from: number; readonly to: number }];
}

/** Lifecycle state of {@link WorkerManager}. */
export type ManagerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
