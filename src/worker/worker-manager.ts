import { EventEmitter } from 'node:events';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { loadRouteFiles } from '../router/discovery.js';
import { compileRoutes } from '../router/route-table.js';
import type { RouteTable, SharedRouteInfo } from '../router/route-table.js';
import type { RouteDeclarationSource } from '../router/router.js';
import { workerClientId } from '../runtime/client-ids.js';
import { backoffDelayMs } from '../util/backoff.js';
import type { ShutdownMode, WorkerAssignment } from './ipc.js';
import { Pool } from './pool.js';
import type { RestartPolicy } from './pool.js';
import { planPools } from './pools.js';
import { checkRouteFiles } from './route-check.js';
import { WorkerProcess, isTakeoverExit } from './worker-process.js';
import type { WorkerExit, WorkerTimings } from './worker-process.js';
import type { WorkerHealth } from './worker-health.js';
import { describeHealth } from './worker-health.js';

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
  /** Config overrides (CLI flags) passed on to the workers, keyed by env-var name. */
  readonly overrides?: Readonly<Record<string, string | undefined>>;
  /** The workers' environment. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
  /** The `.env` file the workers read. @defaultValue `.env` in the working directory */
  readonly envFile?: string;
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
    WorkerRef & { readonly code: number | null; readonly signal: string | null; readonly expected: boolean },
  ];
  'worker:restarted': [WorkerRef & { readonly restarts: number }];
  'worker:stuck': [WorkerRef & { readonly topic: string | undefined }];
  'pool:degraded': [{ readonly pool: string; readonly restarts: number; readonly windowMs: number }];
  'pool:scaled': [{ readonly pool: string; readonly from: number; readonly to: number; readonly reason: string }];
}

/** Lifecycle state of {@link WorkerManager}. */
export type ManagerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Runs the shared routes in pools of worker processes: one pool per shared route (or per `pool` option), each
 * worker with its own persistent MQTT session on `$share/<group>/<filter>`, serving only its pool's routes.
 * Supervises them (restart with backoff, crash-loop → degraded, heartbeat watchdog), and stops, scales and
 * reloads them without losing a message (the protocols of DELIVERY.md).
 */
export class WorkerManager extends EventEmitter<WorkerManagerEvents> {
  readonly #o: WorkerManagerOptions;
  readonly #log: Logger;
  readonly #pools = new Map<string, Pool>();
  readonly #timings: WorkerTimings;
  readonly #policy: RestartPolicy;
  readonly #overrides: Record<string, string>;
  #table: RouteTable | undefined;
  #state: ManagerState = 'idle';
  #stopPromise: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: WorkerManagerOptions) {
    super();
    this.#o = options;
    this.#log = options.logger ?? silentLogger();
    const r = options.config.routemq;
    this.#timings = {
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      stuckTimeoutMs: r.stuckTimeoutMs,
      startTimeoutMs: r.workerStartTimeoutMs,
      killTimeoutMs: r.killTimeoutMs,
    };
    this.#policy = { maxRestarts: r.maxRestarts, restartWindowMs: r.restartWindowMs };
    this.#overrides = {};
    for (const [key, value] of Object.entries(options.overrides ?? {}))
      if (value !== undefined) this.#overrides[key] = value;
    if (options.groupName !== undefined) this.#overrides['MQTT_GROUP_NAME'] = options.groupName;
    if (options.routerDirectory !== undefined) this.#overrides['ROUTEMQ_ROUTERS_DIR'] = options.routerDirectory;
    const groupName = options.groupName ?? options.config.mqtt.groupName;
    const table =
      options.table ?? (options.router ? compileRoutes(options.router, { defaultGroup: groupName }) : undefined);
    if (table) this.#plan(table);
  }

  #plan(table: RouteTable): void {
    this.#table = table;
    for (const plan of planPools(table, this.#o.config.routemq.concurrency)) {
      this.#pools.set(plan.name, new Pool(plan, plan.size));
    }
  }

  get state(): ManagerState {
    return this.#state;
  }

  /** Names of the pools. */
  get poolNames(): string[] {
    return [...this.#pools.keys()];
  }

  /**
   * Start every pool's workers and resolve when all are subscribed. `n` overrides the pool size, and is only
   * allowed when the app has a single pool. If a worker fails its first start, every worker is stopped and the
   * start fails with the worker's reason.
   *
   * @throws RouteMQError the failing worker's code (`RMQ_ERR_MQTT_AUTH`, `RMQ_ERR_ROUTE_FILE_INVALID`, …);
   *   `RMQ_ERR_ROUTE_OPTION_INVALID` for `n` with several pools.
   */
  async startWorkers(n?: number): Promise<void> {
    if (this.#state !== 'idle') throw new RouteMQError(ErrorCodes.STOPPED, `WorkerManager is ${this.#state}`);
    if (!this.#table) {
      const dir = this.#o.routerDirectory ?? this.#o.config.routemq.routersDir;
      const groupName = this.#o.groupName ?? this.#o.config.mqtt.groupName;
      this.#plan(compileRoutes(await loadRouteFiles(dir), { defaultGroup: groupName }));
    }
    if (n !== undefined) {
      assertCount(n);
      if (this.#pools.size !== 1) {
        throw new RouteMQError(
          ErrorCodes.ROUTE_OPTION_INVALID,
          `startWorkers(${n}) sets the size of a single pool, but the app has ${this.#pools.size} pools; ` +
            'use workerCount per route or scaleTo(pool, n)',
        );
      }
      for (const pool of this.#pools.values()) pool.desired = n;
    }
    this.#state = 'starting';
    const starts = [...this.#pools.values()].flatMap((pool) =>
      pool.missingSlots().map((slot) => this.#spawn(pool, slot)),
    );
    const results = await Promise.allSettled(starts);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.stopWorkers();
      throw failed.reason;
    }
    this.#state = 'running';
  }

  /**
   * Stop every worker with the stop protocol: each finishes and acks its in-flight handlers, then disconnects
   * keeping its session, so the broker queues its share until it is back. SIGKILL past the deadline. Memoised.
   */
  stopWorkers(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#state = 'stopping';
      for (const pool of this.#pools.values()) pool.clearTimers();
      const stops = [...this.#pools.values()].flatMap((pool) => pool.live().map((w) => this.#stopWorker(w, 'stop')));
      await Promise.all(stops);
      this.#state = 'stopped';
    })();
    return this.#stopPromise;
  }

  /**
   * SIGKILL every worker at once, synchronously. For a forced exit (a second signal): the parent is about to
   * exit, and no worker may outlive it. Unacked messages are redelivered when the slots return.
   */
  killAll(): void {
    for (const pool of this.#pools.values()) {
      pool.clearTimers();
      for (const worker of pool.live()) worker.kill('SIGKILL');
    }
  }

  /** Live worker processes over all pools. */
  getWorkerCount(): number {
    return [...this.#pools.values()].reduce((n, pool) => n + pool.live().length, 0);
  }

  /** The shared routes, in the seed's shape. */
  getSharedRoutesInfo(): readonly SharedRouteInfo[] {
    return this.#table?.getSharedRoutesInfo() ?? [];
  }

  /** A snapshot of every pool and worker. */
  getWorkerHealth(): WorkerHealth {
    return describeHealth([...this.#pools.values()], this.#policy);
  }

  /**
   * Resize a pool at run time. Up: new slots start. Down: the highest slots leave for good with the scale-down
   * protocol (UNSUBSCRIBE, serve what is queued until idle, DISCONNECT ending the session), so no stale session
   * keeps taking a share of the traffic.
   *
   * @throws RouteMQError `RMQ_ERR_ROUTE_OPTION_INVALID` for an unknown pool or a count < 1.
   */
  scaleTo(poolName: string, n: number, reason = 'manual'): Promise<void> {
    return this.#exclusive(async () => {
      assertCount(n);
      const pool = this.#pool(poolName);
      const from = pool.desired;
      if (n === from) return;
      pool.desired = n;
      if (n > from) {
        await Promise.all(pool.missingSlots().map((slot) => this.#spawn(pool, slot)));
      } else {
        const leaving = [...pool.slots].filter(([slot]) => slot >= n).map(([, w]) => w);
        for (const [slot, timer] of pool.restartTimers) {
          if (slot >= n) {
            clearTimeout(timer);
            pool.restartTimers.delete(slot);
          }
        }
        await Promise.all(leaving.map((w) => this.#stopWorker(w, 'leave')));
      }
      this.#log.info({ pool: pool.name, from, to: n, reason }, 'pool scaled');
      this.emit('pool:scaled', { pool: pool.name, from, to: n, reason });
    });
  }

  /**
   * Rolling reload: re-read the route files (checked first in a throwaway process: if they fail to load, the
   * running workers stay and the error is thrown), then replace each pool's workers one slot at a time. A surge
   * worker joins first and leaves last, so every pool keeps serving, and replaced slots keep their sessions.
   * Clears a degraded state.
   *
   * @throws RouteMQError the load error of the new route files.
   */
  reload(): Promise<void> {
    return this.#exclusive(async () => {
      const first = [...this.#pools.values()][0];
      if (!first) return;
      await checkRouteFiles(this.#assignment(first, 0), this.#env(), this.#timings.startTimeoutMs);
      for (const pool of this.#pools.values()) {
        pool.clearTimers();
        pool.resetRestarts();
        await this.#rollPool(pool);
      }
      this.#log.info('rolling reload done');
    });
  }

  /**
   * Restart one worker (`<pool>-<slot>`) under the same client id: stop protocol, then a fresh process.
   *
   * @throws RouteMQError `RMQ_ERR_ROUTE_OPTION_INVALID` for an unknown worker id.
   */
  restartWorker(workerId: string): Promise<void> {
    return this.#exclusive(async () => {
      for (const pool of this.#pools.values()) {
        for (const [slot, worker] of pool.slots) {
          if (worker.id !== workerId) continue;
          await this.#stopWorker(worker, 'stop');
          await this.#spawn(pool, slot);
          return;
        }
      }
      throw new RouteMQError(ErrorCodes.ROUTE_OPTION_INVALID, `No worker '${workerId}'`);
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopWorkers();
  }

  async #rollPool(pool: Pool): Promise<void> {
    // The surge slot is above `desired`, so it is never restarted, and it leaves with the scale-down protocol.
    const surgeSlot = Math.max(pool.desired, ...[...pool.slots.keys()].map((s) => s + 1));
    const surge = await this.#spawn(pool, surgeSlot);
    try {
      for (let slot = 0; slot < pool.desired; slot++) {
        const old = pool.slots.get(slot);
        if (old) await this.#stopWorker(old, 'stop');
        await this.#spawn(pool, slot);
      }
    } finally {
      await this.#stopWorker(surge, 'leave');
    }
  }

  /** Fork a worker for `slot` and wait until it is subscribed. */
  async #spawn(pool: Pool, slot: number): Promise<WorkerProcess> {
    const worker = new WorkerProcess(this.#assignment(pool, slot), this.#timings, this.#log, this.#env());
    pool.slots.set(slot, worker);
    worker.on('exit', (exit) => this.#onExit(pool, slot, worker, exit));
    worker.on('stuck', (inHand) => this.emit('worker:stuck', { ...ref(worker), topic: inHand[0]?.topic }));
    const { sessionPresent } = await worker.ready();
    this.#log.info({ pool: pool.name, slot, workerPid: worker.pid, sessionPresent }, 'worker started');
    this.emit('worker:started', { ...ref(worker), sessionPresent });
    return worker;
  }

  #assignment(pool: Pool, slot: number): WorkerAssignment {
    return {
      pool: pool.name,
      slot,
      clientId: workerClientId(this.#o.config, pool.name, slot),
      routes: pool.plan.routes.map((r) => r.pattern),
      concurrency: pool.plan.concurrency,
      overrides: this.#overrides,
      heartbeatIntervalMs: this.#timings.heartbeatIntervalMs,
      ...(this.#o.envFile !== undefined ? { envFile: this.#o.envFile } : {}),
    };
  }

  #env(): NodeJS.ProcessEnv {
    return this.#o.env ?? process.env;
  }

  async #stopWorker(worker: WorkerProcess, mode: ShutdownMode): Promise<void> {
    await worker.stop(mode, this.#o.config.routemq.shutdownTimeoutMs);
  }

  #onExit(pool: Pool, slot: number, worker: WorkerProcess, exit: WorkerExit): void {
    if (pool.slots.get(slot) === worker) pool.slots.delete(slot);
    const expected = exit.requested;
    this.emit('worker:exited', { ...ref(worker), code: exit.code, signal: exit.signal, expected });
    if (expected || this.#state === 'stopping' || this.#state === 'stopped' || slot >= pool.desired) return;
    this.#log.warn(
      { pool: pool.name, slot, workerPid: worker.pid, code: exit.code, signal: exit.signal, failure: exit.failure },
      'worker exited unexpectedly',
    );
    if (isTakeoverExit(exit)) {
      // Restarting at once would kick the other client and start a war; try again only much later.
      const retryMs = this.#o.config.routemq.restartMaxMs;
      pool.conflicted.add(slot);
      this.#log.error({ pool: pool.name, slot, retryMs }, "another client took this slot's client id; backing off");
      pool.restartTimers.set(
        slot,
        setTimeout(() => {
          pool.restartTimers.delete(slot);
          pool.conflicted.delete(slot);
          this.#respawn(pool, slot);
        }, retryMs),
      );
      return;
    }
    const outcome = pool.recordCrash(slot, exit.readyForMs, this.#policy);
    if (outcome.degraded) {
      this.#markDegraded(pool);
      return;
    }
    const delayMs = backoffDelayMs(outcome.streak - 1, {
      baseMs: this.#o.config.routemq.restartBaseMs,
      maxMs: this.#o.config.routemq.restartMaxMs,
    });
    pool.restartTimers.set(
      slot,
      setTimeout(() => {
        pool.restartTimers.delete(slot);
        this.#respawn(pool, slot);
      }, delayMs),
    );
  }

  #respawn(pool: Pool, slot: number): void {
    if (this.#state === 'stopping' || this.#state === 'stopped' || slot >= pool.desired || pool.slots.has(slot)) return;
    this.#spawn(pool, slot).then(
      (worker) => this.emit('worker:restarted', { ...ref(worker), restarts: pool.totalRestarts }),
      (err: unknown) => this.#log.warn({ pool: pool.name, slot, err }, 'worker restart failed'),
    );
  }

  #markDegraded(pool: Pool): void {
    if (!pool.degraded) {
      pool.degraded = true;
      const restarts = pool.restartsInWindow(this.#policy);
      this.#log.error(
        { pool: pool.name, restarts, windowMs: this.#policy.restartWindowMs },
        'pool degraded: crash loop',
      );
      this.emit('pool:degraded', { pool: pool.name, restarts, windowMs: this.#policy.restartWindowMs });
    }
    clearTimeout(pool.recoveryTimer);
    pool.recoveryTimer = setTimeout(() => {
      pool.recoveryTimer = undefined;
      if (this.#state !== 'running' && this.#state !== 'starting') return;
      pool.resetRestarts();
      this.#log.info({ pool: pool.name }, "restart window cleared; restarting the pool's missing workers");
      for (const slot of pool.missingSlots()) this.#respawn(pool, slot);
    }, pool.msUntilWindowClears(this.#policy));
  }

  #pool(name: string): Pool {
    const pool = this.#pools.get(name);
    if (!pool) {
      throw new RouteMQError(
        ErrorCodes.ROUTE_OPTION_INVALID,
        `No pool '${name}'; the pools are: ${this.poolNames.join(', ') || '(none)'}`,
      );
    }
    return pool;
  }

  /** Run pool operations one at a time (scale, reload, restart never interleave). */
  #exclusive<T>(op: () => Promise<T>): Promise<T> {
    if (this.#state !== 'running') {
      return Promise.reject(new RouteMQError(ErrorCodes.STOPPED, `WorkerManager is ${this.#state}`));
    }
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

function ref(worker: WorkerProcess): WorkerRef {
  return { pool: worker.assignment.pool, slot: worker.assignment.slot, workerId: worker.id, pid: worker.pid };
}

function assertCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RouteMQError(ErrorCodes.ROUTE_OPTION_INVALID, `A worker count must be an integer ≥ 1, got ${String(n)}`);
  }
}
