import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { workerClientId } from '../consumer/client-ids.js';
import type { WorkerAssignment } from './ipc.js';
import { toTransferable } from '../config/transfer.js';
import type { TransferableConfig } from '../config/transfer.js';
import type { Pool } from './pool.js';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, RouteMQError } from '../errors.js';
import { ensureWritableDir } from '../util/state-dir.js';
import { checkRouteFiles } from './route-check.js';
import { buildWorkerBundle } from './worker-bundle.js';
import type { WorkerBundle } from './worker-bundle.js';
import { WorkerProcess } from './worker-process.js';
import type { DeadLetterSink } from '../message/dead-letter-writer.js';
import type { WorkerTimings } from './worker-process.js';

/** Options of {@link WorkerLauncher}: the parts of the manager's options that shape a worker. */
export interface WorkerLauncherOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** The workers' share-group default. @defaultValue `config.mqtt.groupName` */
  readonly groupName?: string;
  /** The route files the workers serve. @defaultValue `config.routemq.routersDir` */
  readonly routerDirectory?: string;
  /** The workers' environment. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
  /** Where worker bundles are built. @defaultValue `<ROUTEMQ_STATE_DIR>/build/<pid>` */
  readonly buildDir?: string;
  /**
   * Node/V8 flags of every worker. A flag that the workers' `NODE_OPTIONS` also sets is left out, so the
   * environment keeps the last word. @defaultValue {@link DEFAULT_WORKER_EXEC_ARGV}
   */
  readonly workerExecArgv?: readonly string[];
  /** Stores the workers' dead letters (they ask over IPC). */
  readonly deadLetters?: DeadLetterSink;
}

/**
 * The workers' default V8 flags.
 *
 * `--max-semi-space-size=4` (MB; V8 lets each young-generation semi-space grow to 16 MB): a worker allocates short-lived
 * objects for every message, and under a sustained flood V8 grew the young generation to its maximum. That growth was
 * most of a worker's peak RSS above a plain MQTT.js process (bench, W=1 QoS0: peak about 104 MB by default, 80–93 MB
 * with this flag, against 95–99 MB for the baseline), at the same throughput within the noise. Scavenges are more
 * frequent but each is shorter; a handler that keeps many objects alive across messages may want more (set
 * `NODE_OPTIONS=--max-semi-space-size=16` for the workers, or pass `workerExecArgv`).
 */
export const DEFAULT_WORKER_EXEC_ARGV: readonly string[] = Object.freeze(['--max-semi-space-size=4']);

/**
 * Knows what a worker starts with: its assignment (the slot's stable client id, the pool's routes and
 * concurrency, the config overrides), its environment and its timings. The manager decides when a slot gets a
 * worker; the launcher only forks it.
 */
export class WorkerLauncher {
  readonly #o: WorkerLauncherOptions;
  readonly #timings: WorkerTimings;
  readonly #config: TransferableConfig;
  #bundle: WorkerBundle | undefined;

  constructor(options: WorkerLauncherOptions) {
    this.#o = options;
    const r = options.config.routemq;
    this.#timings = {
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      stuckTimeoutMs: r.stuckTimeoutMs,
      startTimeoutMs: r.workerStartTimeoutMs,
      killTimeoutMs: r.killTimeoutMs,
    };
    const c = options.config;
    this.#config = toTransferable({
      ...c,
      mqtt: { ...c.mqtt, groupName: options.groupName ?? c.mqtt.groupName },
      routemq: { ...c.routemq, routersDir: options.routerDirectory ?? c.routemq.routersDir },
    });
  }

  /**
   * Compile the route files into a new worker bundle and check it in a throwaway worker (as `pool`'s slot 0
   * would load it, without connecting). Only then do new workers use it; on failure the current bundle stays.
   *
   * @throws RouteMQError the compile or load error of the route files (`RMQ_ERR_ROUTE_FILE_INVALID`, …);
   *   `RMQ_ERR_STATE_DIR_NOT_WRITABLE` when the build directory cannot be written.
   */
  async prepare(pool: Pool | undefined): Promise<void> {
    ensureWritableDir(this.#buildDir(), 'the worker build');
    if (this.#o.buildDir === undefined) pruneDeadBuilds(this.#buildRoot());
    const routersDir = this.#o.routerDirectory ?? this.#o.config.routemq.routersDir;
    const bundle = await buildWorkerBundle(routersDir, this.#buildDir(), this.#o.config.routemq.instrumentation);
    if (pool) {
      await checkRouteFiles(
        bundle.entry,
        this.#assignment(pool, 0, bundle),
        this.#env(),
        this.#timings.startTimeoutMs,
        instrumentationArgv(bundle),
      );
    }
    this.#bundle = bundle;
  }

  /**
   * Fork the worker of `slot` in `pool`. It is not ready yet: await {@link WorkerProcess.ready}.
   *
   * @param crashed - see {@link WorkerAssignment.crashed}. @defaultValue none
   */
  launch(pool: Pool, slot: number, crashed: WorkerAssignment['crashed'] = []): WorkerProcess {
    const bundle = this.#bundle;
    if (!bundle) throw new RouteMQError(ErrorCodes.INTERNAL, 'WorkerLauncher.launch() before prepare()');
    return new WorkerProcess(
      bundle.entry,
      { ...this.#assignment(pool, slot, bundle), ...(crashed.length > 0 ? { crashed } : {}) },
      this.#timings,
      this.#o.logger,
      this.#env(),
      [...this.#execArgv(), ...instrumentationArgv(bundle)],
      this.#o.deadLetters,
    );
  }

  /** Remove this process's bundles. Best effort: a directory that cannot be removed must not fail a stop. */
  cleanUp(): void {
    try {
      rmSync(this.#buildDir(), { recursive: true, force: true });
    } catch (err) {
      this.#o.logger.warn({ err, dir: this.#buildDir() }, 'could not remove the worker build');
    }
  }

  #buildRoot(): string {
    return join(this.#o.config.routemq.stateDir, 'build');
  }

  #buildDir(): string {
    return this.#o.buildDir ?? join(this.#buildRoot(), String(process.pid));
  }

  #assignment(pool: Pool, slot: number, bundle: WorkerBundle): WorkerAssignment {
    return {
      routersDir: bundle.routersDir,
      pool: pool.name,
      slot,
      clientId: workerClientId(
        this.#o.config,
        pool.name,
        slot,
        pool.plan.routes.map((r) => r.mqttTopic),
      ),
      routes: pool.plan.routes.map((r) => r.pattern),
      concurrency: pool.plan.concurrency,
      config: this.#config,
      heartbeatIntervalMs: this.#timings.heartbeatIntervalMs,
      ...(this.#o.deadLetters ? { storesDeadLetters: true } : {}),
    };
  }

  #env(): NodeJS.ProcessEnv {
    return this.#o.env ?? process.env;
  }

  #execArgv(): readonly string[] {
    return withoutFlagsIn(this.#o.workerExecArgv ?? DEFAULT_WORKER_EXEC_ARGV, this.#env()['NODE_OPTIONS'] ?? '');
  }
}

/** The flag that loads the app's instrumentation module before a worker's own modules, if it has one. */
function instrumentationArgv(bundle: WorkerBundle): readonly string[] {
  return bundle.instrumentation === undefined ? [] : [`--import=${bundle.instrumentation}`];
}

/** `flags` less those whose name (`--name` of `--name=value`) `nodeOptions` also sets: NODE_OPTIONS wins. */
export function withoutFlagsIn(flags: readonly string[], nodeOptions: string): readonly string[] {
  const name = (flag: string): string => flag.split('=', 1)[0]?.replace(/_/g, '-') ?? flag;
  const set = new Set(nodeOptions.split(/\s+/).filter(Boolean).map(name));
  return flags.filter((flag) => !set.has(name(flag)));
}

/** Remove the build directories of processes that no longer run (a crashed or killed `routemq start`). */
function pruneDeadBuilds(root: string): void {
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(root, name), { recursive: true, force: true });
    }
  }
}
