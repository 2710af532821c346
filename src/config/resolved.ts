// The shape of the resolved configuration that `loadConfig` returns (see schema.ts for the variables).
import type { BrokerProtocol } from './broker-address.js';
import type { Secret } from './secret.js';

/** TLS settings of the MQTT connection. Paths are absolute; a key is absent when its variable is unset. */
export interface ResolvedTlsConfig {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Skip certificate verification; only allowed when `NODE_ENV=development`. @defaultValue false */
  readonly insecure: boolean;
}

/** The MQTT connection (`MQTT_*`). */
export interface ResolvedMqttConfig {
  /** `scheme://host:port[/path]`; never holds credentials. @defaultValue `'mqtt://localhost:1883'` */
  readonly url: string;
  readonly protocol: BrokerProtocol;
  readonly host: string;
  readonly port: number;
  /** Whether `MQTT_BROKER` was set anywhere (the CLI starts a dev broker only when it was not). */
  readonly brokerExplicit: boolean;
  readonly username: string | undefined;
  readonly password: Secret | undefined;
  /** @defaultValue `'routemq'` */
  readonly clientIdPrefix: string;
  /** @defaultValue `'mqtt_framework_group'` */
  readonly groupName: string;
  /** @defaultValue 5 */
  readonly protocolVersion: 4 | 5;
  /** @defaultValue 30 */
  readonly keepaliveS: number;
  /** @defaultValue false */
  readonly cleanSession: boolean;
  /** Run with clean sessions even on a broker that loses in-flight messages with them (a loud warning). */
  readonly allowCleanSession: boolean;
  /** @defaultValue 3600 */
  readonly sessionExpiryS: number;
  /** @defaultValue 256 */
  readonly receiveMaximum: number;
  /** @defaultValue 10000 */
  readonly connectTimeoutMs: number;
  /** @defaultValue 500 */
  readonly reconnectMinMs: number;
  /** @defaultValue 30000 */
  readonly reconnectMaxMs: number;
  readonly tls: ResolvedTlsConfig;
}

/** Logging (`LOG_*`). */
export interface ResolvedLogConfig {
  /** @defaultValue `'info'` */
  readonly level: string;
  /** `undefined` means auto: pretty on a TTY. @defaultValue undefined */
  readonly pretty: boolean | undefined;
}

/** RouteMQ's own settings (`ROUTEMQ_*`). Defaults are in `CONFIG_DEFAULTS`. */
export interface ResolvedRouteMQConfig {
  /** Absolute. @defaultValue `'<cwd>/routers'` */
  readonly routersDir: string;
  /**
   * Absolute. Holds the worker bundles, the control socket and the instance lock; must be writable.
   * @defaultValue `'<cwd>/.routemq'`
   */
  readonly stateDir: string;
  /**
   * Part of every client id. @defaultValue `<host>-<hash of stateDir>`: a restart in the same place keeps its ids,
   * two checkouts or apps on one host never share them.
   */
  readonly instanceId: string;
  /** Which app a session-registry record belongs to. @defaultValue the `name` in `<cwd>/package.json`, else the folder name */
  readonly appName: string;
  readonly concurrency: number;
  readonly handlerTimeoutMs: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly dlqPrefix: string;
  /**
   * Most dead letters the store holds (the Redis stream, or the spool file under `stateDir/dlq`). When full, a
   * message to dead-letter stays unacked until room is made (`routemq dlq purge`) and `/ready` says why.
   * @defaultValue 100000
   */
  readonly dlqMaxEntries: number;
  /** Most bytes of dead letters the store holds (see {@link dlqMaxEntries}). @defaultValue 268435456 (256 MiB) */
  readonly dlqMaxBytes: number;
  /**
   * Largest MQTT copy of a dead letter, in bytes; the broker's CONNACK maximum packet size lowers it. A larger
   * envelope is sent with its payload cut and `payloadTruncated: true` (the store keeps it whole).
   * @defaultValue 262144
   */
  readonly dlqMqttMaxBytes: number;
  readonly maxPayloadBytes: number;
  readonly maxJsonDepth: number;
  readonly shutdownTimeoutMs: number;
  readonly devBroker: 'auto' | 'never';
  readonly heartbeatIntervalMs: number;
  readonly stuckTimeoutMs: number;
  readonly maxRestarts: number;
  /**
   * A message in hand when its worker process died this many times (a signal, the OOM killer, an exception outside
   * the handler) is dead-lettered with `RMQ_ERR_HANDLER_CRASHED` at its next delivery, without running it again.
   * Counted per worker slot by the main process, in memory (see docs/configuration.md for the limits).
   * @defaultValue 2
   */
  readonly maxCrashes: number;
  readonly restartWindowMs: number;
  readonly restartBaseMs: number;
  readonly restartMaxMs: number;
  readonly workerStartTimeoutMs: number;
  readonly killTimeoutMs: number;
  /** Absolute path of the control socket, or `undefined` when set to `none`. */
  readonly controlSocket: string | undefined;
  /** Topic prefix of the session registry's retained records. @defaultValue `'routemq/registry'` */
  readonly registryPrefix: string;
  /** A session whose owner has been away this long is adopted by a live instance. @defaultValue 30 */
  readonly orphanGraceS: number;
  /**
   * Absolute path of the app's instrumentation module (its OpenTelemetry SDK set-up), imported first by the main
   * process (`routemq start`) and by every worker, or `undefined` for none. @defaultValue undefined
   */
  readonly instrumentation: string | undefined;
}

/** Redis (`ENABLE_REDIS`, `REDIS_*`, `ROUTEMQ_REDIS_PREFIX`). Defaults are in `CONFIG_DEFAULTS`. */
export interface ResolvedRedisConfig {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: Secret | undefined;
  readonly prefix: string;
  /** TLS (`REDIS_TLS`, or a `rediss://` host); file paths are absolute. */
  readonly tls: ResolvedRedisTlsConfig | undefined;
}

/** TLS to Redis. A key is absent when its variable is unset. */
export interface ResolvedRedisTlsConfig {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** The validated, deeply frozen configuration {@link loadConfig} returns. */
export interface ResolvedConfig {
  /** @defaultValue `'production'` */
  readonly nodeEnv: string;
  readonly mqtt: ResolvedMqttConfig;
  readonly log: ResolvedLogConfig;
  readonly routemq: ResolvedRouteMQConfig;
  readonly redis: ResolvedRedisConfig;
  readonly scaling: ResolvedScalingConfig;
  readonly health: ResolvedHealthConfig;
}

/** The autoscaler (`WORKER_*`, `ROUTEMQ_SCALE_*`). Defaults are in `CONFIG_DEFAULTS`. */
export interface ResolvedScalingConfig {
  /** Resize the pools from their load (needs Redis). */
  readonly autoScale: boolean;
  /** Bounds of every pool's size, over all hosts. */
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** How often load is published and a decision taken. */
  readonly intervalMs: number;
  /** The busy ratio to aim for, 0..1 (from `ROUTEMQ_SCALE_TARGET_UTILIZATION`, a percentage). */
  readonly targetBusy: number;
  readonly queueDepthPerWorker: number;
  readonly scaleUpCooldownMs: number;
  readonly scaleDownCooldownMs: number;
  readonly scaleDownStabilizationMs: number;
  /** The autoscaler leader's lease (SET NX PX); a lost leader stops deciding within it. */
  readonly leaseMs: number;
}

/** Health monitor and HTTP (`HEALTH_HTTP_*`, `METRICS_*`, `ROUTEMQ_HEALTH_INTERVAL_MS`, `ROUTEMQ_MAX_MEMORY_MB`). */
export interface ResolvedHealthConfig {
  /** Serve `/health`, `/ready`, `/status`, `/events` and the dashboard. */
  readonly httpEnabled: boolean;
  /** Serve Prometheus metrics at `metricsPath`. */
  readonly metricsEnabled: boolean;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly metricsPath: string;
  /** Bearer token required on everything but `/health`, when set. */
  readonly token: Secret | undefined;
  readonly intervalMs: number;
  /** A worker above this RSS is drained and replaced; unset = no limit. */
  readonly maxMemoryMb: number | undefined;
}
