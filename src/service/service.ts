/**
 * @module
 * The composition root: one object that assembles a RouteMQ process (the app and its worker pools, Redis, the
 * autoscaler, the health and metrics server, the control socket and, in development, a local broker) and stops
 * all of it in order. `routemq start` is this service plus signals; an embedder gets the same with
 * {@link startRouteMQ}.
 */
import { randomUUID } from 'node:crypto';
import type { ResolvedConfig } from '../config/schema.js';
import { ensureDevBroker } from '../dev/dev-broker.js';
import type { MosquittoProcess } from '../dev/mosquitto.js';
import { ControlServer } from '../control/control-server.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import { HealthService } from '../health/health-service.js';
import type { HealthSnapshot } from '../health/health-monitor.js';
import { createLogger } from '../logger.js';
import type { Logger } from '../logger.js';
import { RedisManager } from '../redis/redis-manager.js';
import { provideSharedRedis } from '../redis/shared-redis.js';
import type { RouteTable } from '../router/route-table.js';
import { RouteMQApp } from '../runtime/app.js';
import type { AppStatus, ReloadResult } from '../runtime/app.js';
import { Autoscaler } from '../scaling/autoscaler.js';
import type { OutgoingPayload, PublishOptions } from '../types.js';
import { runStopSteps } from '../util/stop-steps.js';
import type { SessionEntry } from '../sessions/session-list.js';
import type { SessionRegistry } from '../sessions/session-registry.js';
import { appControlHandler } from './control-handler.js';
import { ServiceSessions } from './service-sessions.js';
import { claimStateDir } from './state-dir.js';
import type { InstanceLock } from './state-dir.js';

/** Options of {@link startRouteMQ} and {@link RouteMQService}. */
export interface RouteMQServiceOptions {
  /** From `loadConfig()`. */
  readonly config: ResolvedConfig;
  /** @defaultValue a pino logger at `config.log.level` */
  readonly logger?: Logger;
  /** Compiled routes. @defaultValue the route files of `ROUTEMQ_ROUTERS_DIR` */
  readonly table?: RouteTable;
  /**
   * Run shared routes in worker pools (`true`), or serve every route on the main connection (`false`).
   * @defaultValue true
   */
  readonly workers?: boolean;
  /** The workers' environment. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Called when `routemq stop` asks this process to stop over the control socket. `routemq start` passes its
   * signal handler (so the process exits after the stop). @defaultValue `service.stop()`
   */
  readonly onStopRequest?: () => void;
  /**
   * Called when the app cannot go on (its main session was taken over, the broker refused the credentials). The
   * service is stopped first. `routemq start` exits with code 1. @defaultValue stop the service
   */
  readonly onFatal?: (error: RouteMQError) => void;
}

/** Lifecycle state of {@link RouteMQService}. */
export type ServiceState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * A running RouteMQ process: everything `routemq start` runs, as one object with one memoised {@link stop}.
 *
 * Start order: the instance lock, control socket (so a second instance on the same socket is refused before it
 * connects), the development broker when one is needed, the session registry (then, in the background, one read of
 * other apps' sessions in this app's rotation), Redis, health, the app (main connection, then the worker pools),
 * this process's session records and the adoption of orphaned sessions, the autoscaler. Stop order: control socket,
 * that read (aborted), autoscaler, adoption, app (drain and ack), session registry, health (`/ready` turned 503 as
 * the stop began), Redis, development broker, instance lock; each step isolated, so one failure never skips the
 * rest. The registry, the adoption and the read live in {@link ServiceSessions}.
 */
export class RouteMQService {
  /** The app: routes, the main connection and the worker pools. */
  readonly app: RouteMQApp;
  /** Health sampling, `/health`, `/ready`, `/status`, `/metrics` and the dashboard. */
  readonly health: HealthService;
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #redis: RedisManager;
  readonly #autoscaler: Autoscaler;
  readonly #control: ControlServer | undefined;
  #broker: MosquittoProcess | undefined;
  #lock: InstanceLock | undefined;
  /** The session registry, the adoption of orphaned sessions and the other-apps check. */
  readonly #sessions: ServiceSessions;
  readonly #onFatal: (error: RouteMQError) => void;
  #state: ServiceState = 'idle';
  #stopPromise: Promise<void> | undefined;

  constructor(options: RouteMQServiceOptions) {
    const { config } = options;
    this.#config = config;
    this.#log =
      options.logger ??
      createLogger({
        level: config.log.level,
        ...(config.log.pretty !== undefined ? { pretty: config.log.pretty } : {}),
      });
    this.app = new RouteMQApp({
      config,
      logger: this.#log,
      ...(options.table ? { table: options.table } : {}),
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    this.#redis = new RedisManager(config, this.#log);
    provideSharedRedis(() => Promise.resolve(this.#redis));
    const app = this.app;
    this.#sessions = new ServiceSessions({
      config,
      logger: this.#log,
      app,
      run: randomUUID(),
      isRunning: () => this.#state === 'running',
    });
    this.#autoscaler = new Autoscaler({
      config,
      workers: () => app.workers,
      redis: this.#redis,
      events: app.events,
      logger: this.#log,
    });
    const onStop = options.onStopRequest ?? (() => void this.stop());
    // One handler for the control socket and the dashboard's `POST /control` (which refuses `stop`).
    const control = appControlHandler(
      app,
      () => this.health.monitor.sample(),
      () => this.reload(),
      onStop,
    );
    this.health = new HealthService(
      app,
      config,
      this.#log,
      this.#redis,
      () => (app.workers ? this.#autoscaler.view() : undefined),
      () => this.sessionList(),
      control,
    );
    this.#onFatal = options.onFatal ?? (() => undefined);
    app.events.on('fatal', (err) => void this.stop().then(() => this.#onFatal(err)));
    app.events.on('event', () => this.#sessions.queueSessionSync());
    app.events.on('sessions.leaving', () => this.#sessions.queueSessionSync());
    app.events.on('session.ended', (clientId) => this.#sessions.removeEndedSession(clientId));
    this.#control = config.routemq.controlSocket
      ? new ControlServer(config.routemq.controlSocket, control, this.#log)
      : undefined;
  }

  get state(): ServiceState {
    return this.#state;
  }

  /** The health server's base URL, when `HEALTH_HTTP_ENABLED` or `METRICS_HTTP_ENABLED`. */
  get healthUrl(): string | undefined {
    return this.health.url;
  }

  /** The configuration the service runs with. */
  get config(): ResolvedConfig {
    return this.#config;
  }

  /**
   * Start everything. On a failure, whatever had started is stopped again before the error is rethrown.
   *
   * @throws RouteMQError `RMQ_ERR_STOPPED` when started twice; else the first failure: route-file codes,
   *   `RMQ_ERR_BROKER_UNREACHABLE`, `RMQ_ERR_MQTT_AUTH`, a control socket in use, …
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle')
      throw new RouteMQError(ErrorCodes.STOPPED, `Cannot start a RouteMQ service that is ${this.#state}`);
    this.#state = 'starting';
    try {
      // Refused before anything connects: a second process on this state directory and instance id.
      this.#lock = claimStateDir(this.#config.routemq.stateDir, this.#config.routemq.instanceId);
      await this.#control?.start();
      this.#broker = await ensureDevBroker(this.#config, this.#log);
      const table = await this.app.load();
      // The registry is refused before any session is taken over; the other-apps check runs in the background.
      await this.#sessions.startRegistry(table);
      this.#redis.start();
      await this.health.start();
      await this.app.start();
      // This process's sessions are published, then orphans are adopted.
      await this.#sessions.startAdoption(table);
      this.#autoscaler.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (this.#state === 'starting') this.#state = 'running';
  }

  /** Publish through the main connection (resolves on the broker's ack at QoS≥1). */
  publish(topic: string, payload: OutgoingPayload, options?: PublishOptions): Promise<void> {
    return this.app.publish(topic, payload, options);
  }

  /** The app's state, problems and every pool and worker (what `/status` builds on). */
  status(): AppStatus {
    return this.app.status();
  }

  /** A fresh health sample (CPU and memory per process), as `routemq status` shows it. */
  sample(): Promise<HealthSnapshot> {
    return this.health.monitor.sample();
  }

  /**
   * Reload the route files: every pool rolls (one slot at a time, never below one ready worker), and the main
   * process swaps to the new code between two messages. See {@link RouteMQApp.reload}.
   *
   * @throws RouteMQError what {@link RouteMQApp.reload} throws; the running code then stays.
   */
  async reload(): Promise<ReloadResult> {
    const result = await this.app.reload();
    // The main session's filters may have changed: republish this process's session records.
    this.#sessions.queueSessionSync();
    return result;
  }

  /** Forced exit: SIGKILL every worker now. For a second signal; prefer {@link stop}. */
  kill(): void {
    this.app.kill();
  }

  /**
   * Stop everything, in order, each step isolated: a failed step is logged with `RMQ_ERR_SHUTDOWN_STEP_FAILED`
   * and the rest still run. In-flight messages finish and are acked; sessions are kept. Memoised; never rejects.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#state = 'stopping';
      // Not awaited yet: `/ready` turns 503 at once while the app drains below.
      const health = this.health.stop();
      await runStopSteps(
        [
          { name: 'control socket', run: () => this.#control?.stop() },
          { name: 'other apps check', run: () => this.#sessions.stopOtherAppsCheck() },
          { name: 'autoscaler', run: () => this.#autoscaler.stop() },
          { name: 'adoption', run: () => this.#sessions.stopAdoption() },
          { name: 'app', run: () => this.app.stop() },
          { name: 'session registry', run: () => this.#sessions.stopRegistry() },
          { name: 'health', run: () => health },
          { name: 'redis', run: () => this.#redis.stop() },
          { name: 'development broker', run: () => this.#broker?.stop() },
          { name: 'instance lock', run: () => this.#lock?.release() },
        ],
        this.#log,
      );
      this.#state = 'stopped';
    })();
    return this.#stopPromise;
  }

  /** The session registry's view (records of every instance and session of this app and group), once started. */
  get sessions(): SessionRegistry | undefined {
    return this.#sessions.registry;
  }

  /**
   * Every session of this app and group as this instance sees them (what `/status` shows as `sessions`): its own,
   * the other instances', and the orphans being adopted. Empty before the registry has started.
   */
  sessionList(): SessionEntry[] {
    return this.#sessions.list();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Assemble and start a RouteMQ process: everything `routemq start` runs, in your own process.
 *
 * @example
 * ```ts
 * import { loadConfig, startRouteMQ } from 'routemq';
 *
 * await using service = await startRouteMQ({ config: loadConfig() });
 * await service.publish('sensors/s1/telemetry', { v: 21.5 }, { qos: 1 });
 * // leaving the scope stops it: drain, ack, keep the sessions
 * ```
 *
 * @throws RouteMQError whatever {@link RouteMQService.start} throws; nothing is left running then.
 */
export async function startRouteMQ(options: RouteMQServiceOptions): Promise<RouteMQService> {
  const service = new RouteMQService(options);
  await service.start();
  return service;
}
