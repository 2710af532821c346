import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { RouteTable } from '../router/route-table.js';
import type { RouteDeclarationSource } from '../router/router.js';
import type { PoolDegradedInfo } from './supervisor.js';
import type { DeadLetterInfo } from '../message/route-runner.js';
import type { MessageStatsSnapshot } from '../message/stats.js';

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
}

/** Identifies one worker in events. */
export interface WorkerRef {
  readonly pool: string;
  readonly slot: number;
  /** `<pool>-<slot>` */
  readonly workerId: string;
  readonly pid: number | undefined;
}

/** Typed events of {@link WorkerManager}. */
export interface WorkerManagerEvents {
  'worker:started': [WorkerRef & { readonly sessionPresent: boolean }];
  'worker:exited': [
    WorkerRef & {
      readonly code: number | null;
      readonly signal: string | null;
      readonly expected: boolean;
      /** The last message counters it reported. */
      readonly stats: MessageStatsSnapshot | undefined;
    },
  ];
  'worker:restarted': [WorkerRef & { readonly restarts: number }];
  'worker:stuck': [WorkerRef & { readonly topic: string | undefined }];
  'pool:degraded': [PoolDegradedInfo];
  'message:dead_lettered': [WorkerRef & DeadLetterInfo];
  'pool:scaled': [
    {
      readonly pool: string;
      readonly from: number;
      readonly to: number;
      readonly reason: string;
      /** What the decision was based on (the autoscaler's signals), when it was not manual. */
      readonly inputs?: Readonly<Record<string, unknown>>;
    },
  ];
}

/** Lifecycle state of {@link WorkerManager}. */
export type ManagerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';
