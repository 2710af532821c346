/**
 * @module
 * One worker's life in a pool slot, for {@link WorkerManager}: fork it and wait until it is subscribed, stop it
 * with the drain deadline of its mode, and when it ends, count its death if it died with messages in hand
 * (crash-poison detection), report `worker.exited` and hand the exit to the {@link Supervisor}, which may respawn
 * the slot here. Which slots to fill, and when, is the manager's.
 */
import type { EventEmitter } from 'node:events';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, isRouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import { CrashLedger } from './crash-ledger.js';
import type { ShutdownMode } from './ipc.js';
import type { Pool } from './pool.js';
import { leaveDrainMs } from './pools.js';
import type { Supervisor } from './supervisor.js';
import { exitCause, isTakeoverExit } from './worker-exit.js';
import type { WorkerExit } from './worker-exit.js';
import type { WorkerLauncher } from './worker-launcher.js';
import type { WorkerManagerEvents } from './worker-manager-types.js';
import type { WorkerProcess } from './worker-process.js';

/** Options of {@link SlotRunner}: the manager's config, logger and parts, and the two things it needs of it. */
export interface SlotRunnerOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly launcher: WorkerLauncher;
  readonly supervisor: Supervisor;
  /** Where the workers' lifecycle events go: the manager. */
  readonly events: EventEmitter<WorkerManagerEvents>;
  /** Whether the manager is stopping or stopped: then an exit is not supervised and no slot is respawned. */
  isStopping(): boolean;
}

/**
 * Starts, stops and reaps the workers of pool slots, and keeps the {@link CrashLedger} of their deaths: a message
 * counted `ROUTEMQ_MAX_CRASHES` times is handed to the slot's next process to dead-letter instead of run.
 */
export class SlotRunner {
  readonly #o: SlotRunnerOptions;
  readonly #log: Logger;
  readonly #crashes: CrashLedger;

  constructor(options: SlotRunnerOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#crashes = new CrashLedger({ maxCrashes: options.config.routemq.maxCrashes });
  }

  /**
   * Fork a worker for `slot` and wait until it is subscribed.
   *
   * @throws RouteMQError see {@link WorkerProcess.ready}.
   */
  async spawn(pool: Pool, slot: number): Promise<WorkerProcess> {
    const worker = this.#o.launcher.launch(pool, slot, this.#crashes.poisoned(pool.name, slot));
    pool.attach(slot, worker);
    worker.on('exit', (exit) => this.#onExit(pool, slot, worker, exit));
    worker.on('message.acked', (key) => this.#crashes.forget(pool.name, slot, key));
    worker.on('worker.stuck', (event) => this.#o.events.emit('worker.stuck', event));
    worker.on('message.dead_lettered', (event) => this.#o.events.emit('message.dead_lettered', event));
    const { sessionPresent } = await worker.ready();
    this.#log.info({ pool: pool.name, slot, workerPid: worker.pid, sessionPresent }, 'worker started');
    this.#o.events.emit('worker.started', { ...worker.ref, sessionPresent });
    return worker;
  }

  /**
   * Stop `worker` of `pool`: `stop` within `shutdownTimeoutMs`; `leave` within the drain deadline of the pool's
   * routes (see `leaveDrainMs`). Resolves on its exit.
   */
  async stopWorker(pool: Pool, worker: WorkerProcess, mode: ShutdownMode): Promise<void> {
    const r = this.#o.config.routemq;
    await worker.stop(mode, mode === 'leave' ? leaveDrainMs(pool.plan.routes, r) : r.shutdownTimeoutMs);
  }

  /**
   * Start a fresh worker in `slot` after a crash (the supervisor's callback), unless the manager is stopping, the
   * slot has left the pool or is filled. Emits `worker.restarted`; a failed restart is logged, and supervised.
   */
  respawn(pool: Pool, slot: number): void {
    if (this.#o.isStopping() || slot >= pool.desired || pool.worker(slot)) return;
    this.spawn(pool, slot).then(
      (worker) => this.#o.events.emit('worker.restarted', { ...worker.ref, restarts: pool.totalRestarts }),
      (err: unknown) => {
        // Started, then died handling its session's messages: a crash (the supervisor restarts it), not a failed start.
        if (isRouteMQError(err, ErrorCodes.WORKER_CRASHED)) {
          this.#log.warn({ pool: pool.name, slot, cause: 'crash', err }, 'restarted worker crashed');
        } else this.#log.warn({ pool: pool.name, slot, cause: 'failed-start', err }, 'worker restart failed');
      },
    );
  }

  #onExit(pool: Pool, slot: number, worker: WorkerProcess, exit: WorkerExit): void {
    pool.detach(slot, worker, exit);
    const expected = exit.requested;
    const cause = exitCause(exit);
    this.#countDeath(pool, slot, worker, exit);
    this.#o.events.emit('worker.exited', {
      ...worker.ref,
      code: exit.code,
      signal: exit.signal,
      expected,
      cause,
      stats: worker.stats,
      ...(exit.sessionEnded ? { endedSession: worker.assignment.clientId } : {}),
    });
    if (this.#o.isStopping()) return;
    this.#o.supervisor.onExit(pool, slot, exit, worker.pid);
  }

  /**
   * An unexpected death with messages in hand counts one death for each (crash-poison detection): one counted
   * `ROUTEMQ_MAX_CRASHES` times is dead-lettered by the slot's next process instead of run. A requested stop (its
   * handlers were aborted past the deadline) and a session takeover are not deaths of this kind.
   */
  #countDeath(pool: Pool, slot: number, worker: WorkerProcess, exit: WorkerExit): void {
    if (exit.requested || isTakeoverExit(exit) || exit.heldKeys.length === 0) return;
    const counted = this.#crashes.recordDeath(pool.name, slot, exit.heldKeys);
    const maxCrashes = this.#o.config.routemq.maxCrashes;
    this.#log.warn(
      {
        pool: pool.name,
        slot,
        workerPid: worker.pid,
        signal: exit.signal,
        code: exit.code,
        inHand: counted,
        maxCrashes,
      },
      counted.some((c) => c.deaths >= maxCrashes)
        ? 'worker died with messages in hand; those it died with ROUTEMQ_MAX_CRASHES times are dead-lettered next'
        : 'worker died with messages in hand; they count as delivered across the death',
    );
  }
}
