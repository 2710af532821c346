import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MessageStatsSnapshot } from '../message/stats.js';
import { loadRouteFiles } from '../router/discovery.js';
import { compileRoutes } from '../router/route-table.js';
import type { RouteTable } from '../router/route-table.js';
import type { OutgoingPayload, PublishOptions } from '../types.js';
import { Consumer } from '../consumer/consumer.js';
import { mainClientId } from '../consumer/client-ids.js';
import { AppEvents } from './app-events.js';
import { WorkerManager } from '../worker/worker-manager.js';
import { detectBroker } from '../mqtt/broker-identity.js';
import { connectionOptionsFromConfig } from '../mqtt/connection-options.js';
import type { WorkerHealth } from '../worker/worker-health.js';
import { DeadLetterOffice } from '../dlq/dead-letter-office.js';
import type { DeadLetterStatus } from '../dlq/dead-letter-office.js';
import { createDeadLetterStore } from '../dlq/create-store.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertReloadable } from './reload-layout.js';
import { loadRouteBundle } from './route-bundle.js';

/** Options of {@link RouteMQApp}. */
export interface AppOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** A compiled table; by default the route files of `ROUTEMQ_ROUTERS_DIR` are loaded. */
  readonly table?: RouteTable;
  /**
   * Run shared routes in worker pools (`true`), or serve every route on the main connection (`false`, for
   * embedding and tests). @defaultValue true
   */
  readonly workers?: boolean;
  /** The workers' environment. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv;
}

/** {@link RouteMQApp.status}. */
export interface AppStatus {
  /** MQTT connected, every pool has a ready worker and none is degraded, no shutdown in progress. */
  readonly ready: boolean;
  /** Why it is not ready. */
  readonly problems: readonly string[];
  readonly state: AppState;
  readonly pid: number;
  readonly mqttConnected: boolean;
  readonly main: MessageStatsSnapshot | undefined;
  /** Route patterns the main process serves (the non-shared ones, or all when not pooled). */
  readonly mainRoutes?: readonly string[];
  readonly workers: WorkerHealth | undefined;
  /** The dead-letter store's size, and dead letters stored and MQTT copies refused since start. */
  readonly deadLetters: DeadLetterStatus | undefined;
}

/** What {@link RouteMQApp.reload} did. */
export interface ReloadResult {
  /** The main process's routes: their patterns now, and the MQTT topics it subscribed and unsubscribed. */
  readonly main: {
    readonly routes: readonly string[];
    readonly subscribed: readonly string[];
    readonly unsubscribed: readonly string[];
  };
  /** The worker pools replaced one slot at a time (rolling). */
  readonly pools: readonly string[];
  /** Every source file the route files import now (route files included; packages and RouteMQ excluded). */
  readonly inputs: readonly string[];
}

/** Lifecycle state of {@link RouteMQApp}. */
export type AppState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * A RouteMQ application: the route table, the main process's consumer (non-shared routes, and the connection
 * `publish` uses), and the WorkerManager that runs the shared routes in per-route worker pools.
 */
export class RouteMQApp {
  readonly #config: ResolvedConfig;
  readonly #logger: Logger;
  #table: RouteTable | undefined;
  #consumer: Consumer | undefined;
  #workers: WorkerManager | undefined;
  #deadLetters: DeadLetterOffice | undefined;
  #mainRoutes: readonly string[] = [];
  readonly #options: AppOptions;
  #state: AppState = 'idle';
  /** Lifecycle events (workers, pools, dead letters), for `/events` and the dashboard. */
  readonly events = new AppEvents();
  #stopPromise: Promise<void> | undefined;
  /** Reloads run one at a time. */
  #reloads: Promise<unknown> = Promise.resolve();

  constructor(options: AppOptions) {
    this.#config = options.config;
    this.#logger = options.logger;
    this.#table = options.table;
    this.#options = options;
  }

  /** The worker manager (after {@link start}, when shared routes run in pools). */
  get workers(): WorkerManager | undefined {
    return this.#workers;
  }

  get state(): AppState {
    return this.#state;
  }

  /** Where dead letters go: the durable store and the MQTT copies (after {@link start}). */
  get deadLetters(): DeadLetterOffice | undefined {
    return this.#deadLetters;
  }

  /** The compiled routes (after {@link start}, or when given). */
  get table(): RouteTable | undefined {
    return this.#table;
  }

  /**
   * Load and compile the route files of `ROUTEMQ_ROUTERS_DIR`, unless a table was given. Idempotent.
   *
   * @throws RouteMQError the route-file codes.
   */
  async load(): Promise<RouteTable> {
    this.#table ??= compileRoutes(await loadRouteFiles(this.#config.routemq.routersDir), {
      defaultGroup: this.#config.mqtt.groupName,
    });
    return this.#table;
  }

  /**
   * Load the routes (unless given), connect, subscribe. Resolves when the broker has acked the subscriptions.
   *
   * @throws RouteMQError route-file codes, `RMQ_ERR_BROKER_UNREACHABLE`, `RMQ_ERR_MQTT_AUTH`, …
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle')
      throw new RouteMQError(ErrorCodes.ALREADY_STARTED, `Cannot start an app that is ${this.#state}`);
    this.#state = 'starting';
    try {
      const table = await this.load();
      await this.#checkCleanSession();
      const pooled = this.#options.workers ?? true;
      const store = await createDeadLetterStore(this.#config, this.#logger);
      const office = new DeadLetterOffice({
        store,
        logger: this.#logger,
        publish: (topic, payload, options) => consumer.publish(topic, payload, options),
        mqttMaxBytes: this.#config.routemq.dlqMqttMaxBytes,
        brokerMaxPacketBytes: () => consumer.serverMaximumPacketSize,
      });
      this.#deadLetters = office;
      const deadLetters = (envelope: Parameters<DeadLetterOffice['put']>[0]): ReturnType<DeadLetterOffice['put']> =>
        office.put(envelope);
      const mainRoutes = pooled ? table.routes.filter((r) => !r.shared) : table.routes;
      this.#mainRoutes = [...new Set(mainRoutes.map((r) => r.pattern))].sort();
      const consumer = new Consumer({
        config: this.#config,
        table,
        routes: mainRoutes,
        clientId: mainClientId(this.#config),
        logger: this.#logger,
        onDeadLetter: (info) => this.events.publish('message.dead_lettered', { workerId: 'main', ...info }),
        deadLetters,
        origin: { instance: this.#config.routemq.instanceId, pool: 'main' },
      });
      this.#consumer = consumer;
      consumer.on('fatal', (err) => {
        this.#logger.fatal({ code: err.code }, err.message);
        this.events.emit('fatal', err);
      });
      const { sessionPresent } = await consumer.start();
      if (pooled && table.routes.some((r) => r.shared)) {
        this.#workers = new WorkerManager({
          config: this.#config,
          table,
          logger: this.#logger,
          deadLetters,
          ...(this.#options.env ? { env: this.#options.env } : {}),
        });
        this.events.follow(this.#workers);
        await this.#workers.startWorkers();
      }
      this.#state = 'running';
      this.#logger.info(
        { clientId: consumer.clientId, sessionPresent, routes: table.routes.length },
        'RouteMQ is serving',
      );
    } catch (err) {
      await Promise.all([this.#consumer?.stop({ timeoutMs: 0 }), this.#workers?.stopWorkers()]);
      await this.#deadLetters?.store.close();
      this.#state = 'stopped';
      throw err;
    }
  }

  /**
   * Clean sessions lose messages on Mosquitto: a dead clean member's in-flight and queued QoS1 messages are dropped
   * for the whole share group (eclipse-mosquitto/mosquitto#2662). EMQX redispatches them, so it is safe there.
   */
  async #checkCleanSession(): Promise<void> {
    if (!this.#config.mqtt.cleanSession) return;
    const broker = await detectBroker(connectionOptionsFromConfig(this.#config, 'probe', this.#logger));
    if (broker.product === 'emqx') return;
    const why =
      `MQTT_CLEAN_SESSION=true on ${broker.version ?? 'a broker that does not identify itself'}: a worker that dies ` +
      'takes its in-flight and queued messages with it (Mosquitto drops them for the whole share group)';
    if (!this.#config.mqtt.allowCleanSession) {
      throw new RouteMQError(
        ErrorCodes.CLEAN_SESSION_REFUSED,
        `${why}. Keep MQTT_CLEAN_SESSION=false, or set ROUTEMQ_ALLOW_CLEAN_SESSION=true to accept the loss`,
      );
    }
    this.#logger.warn(`*** ${why}. ROUTEMQ_ALLOW_CLEAN_SESSION=true: at-least-once delivery is NOT guaranteed. ***`);
  }

  /**
   * Reload the route files: the main process's routes and every worker pool. The new files are compiled and loaded
   * into a fresh bundle first (see `route-bundle.ts`); if they fail, nothing changes. Then each pool rolls (one slot
   * at a time, see {@link WorkerManager.reload}), and the main process swaps its route table between two messages:
   * messages in hand finish on the old code and are acked after it, new filters are subscribed before dropped ones
   * are unsubscribed. Reloads run one at a time.
   *
   * @throws RouteMQError `RMQ_ERR_ROUTE_FILE_INVALID` (the message names the file and line) and the other route-file
   *   codes when the new files do not load: the running code stays. `RMQ_ERR_RELOAD_NEEDS_RESTART` when the change
   *   needs a restart (a pool layout, the main concurrency, or an app built from a compiled table): nothing changes.
   *   `RMQ_ERR_MQTT_NOT_CONNECTED` when the main connection is down (nothing changes), or the pools' reload codes.
   *   `RMQ_ERR_NOT_STARTED` / `RMQ_ERR_STOPPED` outside `running`.
   */
  reload(): Promise<ReloadResult> {
    const run = (): Promise<ReloadResult> => this.#reload();
    const next = this.#reloads.then(run, run);
    this.#reloads = next.catch(() => undefined);
    return next;
  }

  async #reload(): Promise<ReloadResult> {
    const consumer = this.#consumer;
    const before = this.#table;
    if (this.#state !== 'running' || !consumer || !before) {
      const code = this.#state === 'idle' || this.#state === 'starting' ? ErrorCodes.NOT_STARTED : ErrorCodes.STOPPED;
      throw new RouteMQError(code, `Cannot reload an app that is ${this.#state}`);
    }
    if (this.#options.table) {
      throw new RouteMQError(
        ErrorCodes.RELOAD_NEEDS_RESTART,
        'Not reloaded: this app was started with a compiled route table, not from route files; restart it to change ' +
          'its routes',
      );
    }
    const r = this.#config.routemq;
    const loaded = await loadRouteBundle(r.routersDir, this.#mainBuildDir());
    const table = compileRoutes(loaded.declarations, { defaultGroup: this.#config.mqtt.groupName });
    const pooled = this.#options.workers ?? true;
    assertReloadable(before, table, { pooled, defaultConcurrency: r.concurrency });
    // Checked before any pool rolls: the main swap below needs the connection.
    if (!consumer.connected) {
      throw new RouteMQError(ErrorCodes.MQTT_NOT_CONNECTED, 'Not reloaded: the main MQTT connection is down');
    }
    const pools = this.#workers?.poolNames ?? [];
    if (this.#workers) await this.#workers.reload();
    const routes = pooled ? table.routes.filter((route) => !route.shared) : table.routes;
    const { subscribed, unsubscribed } = await consumer.replaceRoutes(table, routes);
    this.#table = table;
    const result: ReloadResult = {
      main: { routes: routes.map((route) => route.pattern), subscribed, unsubscribed },
      pools,
      inputs: loaded.inputs,
    };
    this.#logger.info({ main: result.main, pools }, 'routes reloaded');
    return result;
  }

  /** Where the main process's reload bundles go: beside the worker bundles of this process. */
  #mainBuildDir(): string {
    return join(this.#config.routemq.stateDir, 'build', String(process.pid), 'main');
  }

  /** Publish through the main connection (resolves on the broker's ack at QoS≥1). */
  publish(topic: string, payload: OutgoingPayload, options?: PublishOptions): Promise<void> {
    if (!this.#consumer) throw new RouteMQError(ErrorCodes.MQTT_NOT_CONNECTED, 'The app has not started');
    return this.#consumer.publish(topic, payload, options);
  }

  /** What `routemq status` shows: the app state, the main process, and every pool and worker. */
  status(): AppStatus {
    const workers = this.#workers?.getWorkerHealth();
    const problems: string[] = [];
    if (this.#state !== 'running') problems.push(`app is ${this.#state}`);
    if (!this.#consumer?.connected) problems.push('main MQTT connection is down');
    for (const pool of workers?.pools ?? []) {
      if (pool.degraded) problems.push(`pool ${pool.name} is degraded (crash loop)`);
      else if (pool.ready === 0) problems.push(`pool ${pool.name} has no ready worker`);
    }
    const deadLetters = this.#deadLetters?.status();
    if (deadLetters?.store.full) {
      const { entries, maxEntries, bytes, maxBytes, location } = deadLetters.store;
      problems.push(
        `dead-letter store full (${entries}/${maxEntries} entries, ${bytes}/${maxBytes} bytes in ${location}): ` +
          'messages to dead-letter stay unacked until `routemq dlq purge` makes room (RMQ_ERR_DLQ_STORE_FULL)',
      );
    }
    return {
      ready: problems.length === 0,
      problems,
      state: this.#state,
      pid: process.pid,
      mqttConnected: this.#consumer?.connected ?? false,
      main: this.#consumer?.stats(),
      mainRoutes: this.#mainRoutes,
      workers,
      deadLetters,
    };
  }

  /** Forced exit: SIGKILL every worker now (see {@link WorkerManager.killAll}). */
  kill(): void {
    this.#workers?.killAll();
  }

  /** Message counters of the main process. */
  stats(): MessageStatsSnapshot | undefined {
    return this.#consumer?.stats();
  }

  /** Stop taking messages, finish and ack the in-flight ones, disconnect keeping the session. Memoised. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#state = 'stopping';
      await Promise.all([this.#consumer?.stop(), this.#workers?.stopWorkers()]);
      await this.#deadLetters?.store.close();
      // Best effort: a leftover directory is pruned with the worker builds of dead processes at a later start.
      try {
        rmSync(this.#mainBuildDir(), { recursive: true, force: true });
      } catch (err) {
        this.#logger.warn({ err, dir: this.#mainBuildDir() }, 'could not remove the reload bundles');
      }
      this.#state = 'stopped';
      this.#logger.info('RouteMQ stopped');
    })();
    return this.#stopPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
