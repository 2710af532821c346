import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { workerClientId } from '../runtime/client-ids.js';
import type { WorkerAssignment } from './ipc.js';
import type { Pool } from './pool.js';
import { checkRouteFiles } from './route-check.js';
import { WorkerProcess } from './worker-process.js';
import type { WorkerTimings } from './worker-process.js';

/** Options of {@link WorkerLauncher}: the parts of the manager's options that shape a worker. */
export interface WorkerLauncherOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** Passed on as `MQTT_GROUP_NAME`. @defaultValue the workers' own config */
  readonly groupName?: string;
  /** Passed on as `ROUTEMQ_ROUTERS_DIR`. @defaultValue the workers' own config */
  readonly routerDirectory?: string;
  /** Config overrides (CLI flags) passed on to the workers, keyed by env-var name; `undefined` values are dropped. */
  readonly overrides?: Readonly<Record<string, string | undefined>>;
  /** The workers' environment. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
  /** The `.env` file the workers read. @defaultValue `.env` in the working directory */
  readonly envFile?: string;
}

/**
 * Knows what a worker starts with: its assignment (the slot's stable client id, the pool's routes and
 * concurrency, the config overrides), its environment and its timings. The manager decides when a slot gets a
 * worker; the launcher only forks it.
 */
export class WorkerLauncher {
  readonly #o: WorkerLauncherOptions;
  readonly #timings: WorkerTimings;
  readonly #overrides: Record<string, string> = {};

  constructor(options: WorkerLauncherOptions) {
    this.#o = options;
    const r = options.config.routemq;
    this.#timings = {
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      stuckTimeoutMs: r.stuckTimeoutMs,
      startTimeoutMs: r.workerStartTimeoutMs,
      killTimeoutMs: r.killTimeoutMs,
    };
    for (const [key, value] of Object.entries(options.overrides ?? {}))
      if (value !== undefined) this.#overrides[key] = value;
    if (options.groupName !== undefined) this.#overrides['MQTT_GROUP_NAME'] = options.groupName;
    if (options.routerDirectory !== undefined) this.#overrides['ROUTEMQ_ROUTERS_DIR'] = options.routerDirectory;
  }

  /** Fork the worker of `slot` in `pool`. It is not ready yet: await {@link WorkerProcess.ready}. */
  launch(pool: Pool, slot: number): WorkerProcess {
    return new WorkerProcess(this.#assignment(pool, slot), this.#timings, this.#o.logger, this.#env());
  }

  /**
   * Load and compile the route files in a throwaway worker process, as `pool`'s slot 0 would, without connecting.
   * Resolves with the loaded route patterns.
   *
   * @throws RouteMQError the load error of the route files (`RMQ_ERR_ROUTE_FILE_INVALID`, …).
   */
  checkRouteFiles(pool: Pool): Promise<readonly string[]> {
    return checkRouteFiles(this.#assignment(pool, 0), this.#env(), this.#timings.startTimeoutMs);
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
}
