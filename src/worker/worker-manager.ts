import { EventEmitter } from 'node:events';
import { ErrorCodes, RouteMQError, isRouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { loadRouteFiles } from '../router/discovery.js';
import { compileRoutes } from '../router/route-table.js';
import type { RouteTable, SharedRouteInfo } from '../router/route-table.js';
import { Pool, assertWorkerCount } from './pool.js';
import { planPools } from './pools.js';
import { HEALTHY_AFTER_MS } from './restart-policy.js';
import type { RestartPolicy } from './restart-policy.js';
import { Supervisor } from './supervisor.js';
import type { WorkerHealth } from './worker-health.js';
import { describeHealth, windowDeltasOf } from './worker-health.js';
import type { WindowDelta } from '../message/stats-window.js';
import { WorkerLauncher } from './worker-launcher.js';
import { SlotRunner } from './slot-runner.js';
import type { ManagerState, WorkerManagerEvents, WorkerManagerOptions } from './worker-manager-types.js';

export type { ManagerState, WorkerManagerEvents, WorkerManagerOptions } from './worker-manager-types.js';

/**
 * Runs the shared routes in pools of worker processes: one pool per shared route (or per `pool` option), each
 * worker with its own persistent MQTT session on `$share/<group>/<filter>`, serving only its pool's routes.
 * Supervises them (restart with backoff and crash-loop → degraded in {@link Supervisor}, the heartbeat watchdog in
 * each {@link WorkerProcess}), and stops, scales and reloads them without losing a message (the protocols of
 * DELIVERY.md). {@link WorkerLauncher} builds what each worker starts with; {@link SlotRunner} starts, stops and
 * reaps each slot's worker.
 */
export class WorkerManager extends EventEmitter<WorkerManagerEvents> {
  readonly #o: WorkerManagerOptions;
  readonly #log: Logger;
  readonly #pools = new Map<string, Pool>();
  readonly #launcher: WorkerLauncher;
  readonly #policy: RestartPolicy;
  readonly #supervisor: Supervisor;
  readonly #slots: SlotRunner;
  #table: RouteTable | undefined;
  #state: ManagerState = 'idle';
  #stopPromise: Promise<void> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: WorkerManagerOptions) {
    super();
    this.#o = options;
    this.#log = options.logger ?? silentLogger();
    const r = options.config.routemq;
    this.#launcher = new WorkerLauncher({ ...options, logger: this.#log });
    this.#policy = {
      maxRestarts: r.maxRestarts,
      restartWindowMs: r.restartWindowMs,
      restartBaseMs: r.restartBaseMs,
      restartMaxMs: r.restartMaxMs,
      healthyAfterMs: HEALTHY_AFTER_MS,
    };
    this.#supervisor = new Supervisor({
      policy: this.#policy,
      logger: this.#log,
      isActive: () => this.#state === 'running' || this.#state === 'starting',
      respawn: (pool, slot) => this.#slots.respawn(pool, slot),
      onDegraded: (info) => this.emit('pool.degraded', info),
    });
    this.#slots = new SlotRunner({
      config: options.config,
      logger: this.#log,
      launcher: this.#launcher,
      supervisor: this.#supervisor,
      events: this,
      isStopping: () => this.#state === 'stopping' || this.#state === 'stopped',
    });
    const groupName = options.groupName ?? options.config.mqtt.groupName;
    const table =
      options.table ?? (options.router ? compileRoutes(options.router, { defaultGroup: groupName }) : undefined);
    if (table) this.#plan(table);
  }

  #plan(table: RouteTable): void {
    this.#table = table;
    for (const plan of planPools(table, this.#o.config.routemq.concurrency)) {
      this.#pools.set(plan.name, new Pool(plan, plan.size, this.#o.config.scaling.maxWorkers));
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
    if (this.#state !== 'idle') throw new RouteMQError(ErrorCodes.ALREADY_STARTED, `WorkerManager is ${this.#state}`);
    if (!this.#table) {
      const dir = this.#o.routerDirectory ?? this.#o.config.routemq.routersDir;
      const groupName = this.#o.groupName ?? this.#o.config.mqtt.groupName;
      this.#plan(compileRoutes(await loadRouteFiles(dir), { defaultGroup: groupName }));
    }
    if (n !== undefined) {
      assertWorkerCount(n);
      if (this.#pools.size !== 1) {
        throw new RouteMQError(
          ErrorCodes.ROUTE_OPTION_INVALID,
          `startWorkers(${n}) sets the size of a single pool, but the app has ${this.#pools.size} pools; ` +
            'use workerCount per route or scaleTo(pool, n)',
        );
      }
      for (const pool of this.#pools.values()) pool.resize(n);
    }
    this.#state = 'starting';
    try {
      await this.#launcher.prepare(undefined);
    } catch (err) {
      this.#state = 'stopped';
      throw err;
    }
    const starts = [...this.#pools.values()].flatMap((pool) =>
      pool.missingSlots().map((slot) => this.#slots.spawn(pool, slot)),
    );
    const results = await Promise.allSettled(starts);
    // A worker that died handling what its resumed session held did start (its route files, the broker are fine):
    // the supervisor restarts it like any crash, and the message that killed it is counted (crash-ledger.ts).
    const failed = results.find(
      (r): r is PromiseRejectedResult =>
        r.status === 'rejected' && !isRouteMQError(r.reason, ErrorCodes.WORKER_CRASHED),
    );
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
      for (const pool of this.#pools.values()) this.#supervisor.cancelAll(pool);
      const stops = [...this.#pools.values()].flatMap((pool) =>
        pool.live().map((w) => this.#slots.stopWorker(pool, w, 'stop')),
      );
      await Promise.all(stops);
      this.#launcher.cleanUp();
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
      this.#supervisor.cancelAll(pool);
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

  /** Every live worker's stats-window differences (per-route live figures; see `StatsWindow`). */
  windowDeltas(): WindowDelta[] {
    return windowDeltasOf([...this.#pools.values()]);
  }

  /**
   * Resize a pool at run time. Up: new slots start. Down: the highest slots leave for good with the scale-down
   * protocol (UNSUBSCRIBE, serve what is queued until idle, DISCONNECT ending the session), so no stale session
   * keeps taking a share of the traffic. `reason` and `inputs` (the autoscaler's signals) go into the log and the
   * `pool.scaled` event.
   *
   * @throws RouteMQError `RMQ_ERR_POOL_NOT_FOUND` for an unknown pool, `RMQ_ERR_ROUTE_OPTION_INVALID` for a count < 1.
   */
  scaleTo(poolName: string, n: number, reason = 'manual', inputs?: Readonly<Record<string, unknown>>): Promise<void> {
    return this.#exclusive(async () => {
      assertWorkerCount(n);
      const pool = this.#pool(poolName);
      const from = pool.desired;
      if (n === from) return;
      pool.resize(n);
      if (n > from) {
        await Promise.all(pool.missingSlots().map((slot) => this.#slots.spawn(pool, slot)));
      } else {
        const leaving = pool.leaving(n);
        this.#supervisor.cancelRestarts(pool, n);
        this.emit('slots.leaving', { pool: pool.name, from, to: n });
        await Promise.all(leaving.map((w) => this.#slots.stopWorker(pool, w, 'leave')));
      }
      this.#log.info({ pool: pool.name, from, to: n, reason, ...(inputs ? { inputs } : {}) }, 'pool scaled');
      this.emit('pool.scaled', { pool: pool.name, from, to: n, reason, ...(inputs ? { inputs } : {}) });
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
      await this.#launcher.prepare(first);
      for (const pool of this.#pools.values()) {
        this.#supervisor.cancelAll(pool);
        pool.forgetCrashes();
        await this.#rollPool(pool);
      }
      this.#log.info('rolling reload done');
    });
  }

  /**
   * Restart one worker (`<pool>-<slot>`) under the same client id: stop protocol, then a fresh process.
   *
   * @throws RouteMQError `RMQ_ERR_WORKER_NOT_FOUND` for an unknown worker id.
   */
  restartWorker(workerId: string): Promise<void> {
    return this.#exclusive(async () => {
      for (const pool of this.#pools.values()) {
        const found = pool.find(workerId);
        if (!found) continue;
        await this.#slots.stopWorker(pool, found.worker, 'stop');
        await this.#slots.spawn(pool, found.slot);
        return;
      }
      throw new RouteMQError(ErrorCodes.WORKER_NOT_FOUND, `No worker '${workerId}'; see \`routemq status\``);
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopWorkers();
  }

  async #rollPool(pool: Pool): Promise<void> {
    // The surge slot is above `desired`, so it is never restarted, and it leaves with the scale-down protocol.
    const surge = await this.#slots.spawn(pool, pool.surgeSlot());
    try {
      for (let slot = 0; slot < pool.desired; slot++) {
        const old = pool.worker(slot);
        if (old) await this.#slots.stopWorker(pool, old, 'stop');
        await this.#slots.spawn(pool, slot);
      }
    } finally {
      await this.#slots.stopWorker(pool, surge, 'leave');
    }
  }

  #pool(name: string): Pool {
    const pool = this.#pools.get(name);
    if (!pool) {
      throw new RouteMQError(
        ErrorCodes.POOL_NOT_FOUND,
        `No pool '${name}'; the pools are: ${this.poolNames.join(', ') || '(none)'}`,
      );
    }
    return pool;
  }

  /** Run pool operations one at a time (scale, reload, restart never interleave). */
  #exclusive<T>(op: () => Promise<T>): Promise<T> {
    if (this.#state !== 'running') {
      const code =
        this.#state === 'stopping' || this.#state === 'stopped' ? ErrorCodes.STOPPED : ErrorCodes.NOT_STARTED;
      return Promise.reject(new RouteMQError(code, `WorkerManager is ${this.#state}`));
    }
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
