import { join, resolve } from 'node:path';
import { defaultAppName, defaultInstanceId } from './identity-defaults.js';
import { DEFAULT_PORTS } from './broker-address.js';
import type { BrokerAddress } from './broker-address.js';
import { CONFIG_DEFAULTS } from './schema.js';
import type { ParsedConfigValues, ResolvedConfig, ResolvedRedisTlsConfig } from './schema.js';

/** The broker when `MQTT_BROKER` is unset. */
export const DEFAULT_BROKER: BrokerAddress = {
  protocol: 'mqtt',
  host: CONFIG_DEFAULTS.MQTT_BROKER,
  port: undefined,
  path: '',
};

/** The control socket's absolute path from `ROUTEMQ_CONTROL_SOCKET` (or its default), `undefined` for `none`. */
export function controlSocketPath(
  value: string | undefined,
  stateDir: string | undefined,
  cwd: string,
): string | undefined {
  if (value === 'none') return undefined;
  if (value !== undefined) return resolve(cwd, value);
  return join(resolve(cwd, stateDir ?? CONFIG_DEFAULTS.ROUTEMQ_STATE_DIR), 'control.sock');
}

/** Build the resolved config from validated values: defaults applied, paths made absolute. */
export function assemble(v: ParsedConfigValues, cwd: string): ResolvedConfig {
  const d = CONFIG_DEFAULTS;
  const stateDir = resolve(cwd, v.ROUTEMQ_STATE_DIR ?? d.ROUTEMQ_STATE_DIR);
  const broker = v.MQTT_BROKER ?? DEFAULT_BROKER;
  const port = broker.port ?? v.MQTT_PORT ?? DEFAULT_PORTS[broker.protocol];
  const urlHost = broker.host.includes(':') ? `[${broker.host}]` : broker.host;
  const tls: { caFile?: string; certFile?: string; keyFile?: string; insecure: boolean } = {
    insecure: v.MQTT_TLS_INSECURE ?? d.MQTT_TLS_INSECURE,
  };
  if (v.MQTT_TLS_CA !== undefined) tls.caFile = resolve(cwd, v.MQTT_TLS_CA);
  if (v.MQTT_TLS_CERT !== undefined) tls.certFile = resolve(cwd, v.MQTT_TLS_CERT);
  if (v.MQTT_TLS_KEY !== undefined) tls.keyFile = resolve(cwd, v.MQTT_TLS_KEY);
  return {
    nodeEnv: v.NODE_ENV ?? d.NODE_ENV,
    mqtt: {
      url: `${broker.protocol}://${urlHost}:${port}${broker.path}`,
      protocol: broker.protocol,
      host: broker.host,
      port,
      brokerExplicit: v.MQTT_BROKER !== undefined,
      username: v.MQTT_USERNAME,
      password: v.MQTT_PASSWORD,
      clientIdPrefix: v.MQTT_CLIENT_ID ?? d.MQTT_CLIENT_ID,
      groupName: v.MQTT_GROUP_NAME ?? d.MQTT_GROUP_NAME,
      protocolVersion: v.MQTT_PROTOCOL_VERSION ?? d.MQTT_PROTOCOL_VERSION,
      keepaliveS: v.MQTT_KEEPALIVE_S ?? d.MQTT_KEEPALIVE_S,
      cleanSession: v.MQTT_CLEAN_SESSION ?? d.MQTT_CLEAN_SESSION,
      allowCleanSession: v.ROUTEMQ_ALLOW_CLEAN_SESSION ?? d.ROUTEMQ_ALLOW_CLEAN_SESSION,
      sessionExpiryS: v.MQTT_SESSION_EXPIRY_S ?? d.MQTT_SESSION_EXPIRY_S,
      receiveMaximum: v.MQTT_RECEIVE_MAXIMUM ?? d.MQTT_RECEIVE_MAXIMUM,
      connectTimeoutMs: v.MQTT_CONNECT_TIMEOUT_MS ?? d.MQTT_CONNECT_TIMEOUT_MS,
      reconnectMinMs: v.MQTT_RECONNECT_MIN_MS ?? d.MQTT_RECONNECT_MIN_MS,
      reconnectMaxMs: v.MQTT_RECONNECT_MAX_MS ?? d.MQTT_RECONNECT_MAX_MS,
      tls,
    },
    log: { level: v.LOG_LEVEL ?? d.LOG_LEVEL, pretty: v.LOG_PRETTY },
    routemq: {
      routersDir: resolve(cwd, v.ROUTEMQ_ROUTERS_DIR ?? d.ROUTEMQ_ROUTERS_DIR),
      stateDir,
      instanceId: v.ROUTEMQ_INSTANCE_ID ?? defaultInstanceId(stateDir),
      appName: v.ROUTEMQ_APP_NAME ?? defaultAppName(cwd),
      concurrency: v.ROUTEMQ_CONCURRENCY ?? d.ROUTEMQ_CONCURRENCY,
      handlerTimeoutMs: v.ROUTEMQ_HANDLER_TIMEOUT_MS ?? d.ROUTEMQ_HANDLER_TIMEOUT_MS,
      maxAttempts: v.ROUTEMQ_MAX_ATTEMPTS ?? d.ROUTEMQ_MAX_ATTEMPTS,
      retryBaseMs: v.ROUTEMQ_RETRY_BASE_MS ?? d.ROUTEMQ_RETRY_BASE_MS,
      retryMaxMs: v.ROUTEMQ_RETRY_MAX_MS ?? d.ROUTEMQ_RETRY_MAX_MS,
      dlqPrefix: v.ROUTEMQ_DLQ_PREFIX ?? d.ROUTEMQ_DLQ_PREFIX,
      dlqMaxEntries: v.ROUTEMQ_DLQ_MAX_ENTRIES ?? d.ROUTEMQ_DLQ_MAX_ENTRIES,
      dlqMaxBytes: v.ROUTEMQ_DLQ_MAX_BYTES ?? d.ROUTEMQ_DLQ_MAX_BYTES,
      dlqMqttMaxBytes: v.ROUTEMQ_DLQ_MQTT_MAX_BYTES ?? d.ROUTEMQ_DLQ_MQTT_MAX_BYTES,
      maxPayloadBytes: v.ROUTEMQ_MAX_PAYLOAD_BYTES ?? d.ROUTEMQ_MAX_PAYLOAD_BYTES,
      maxJsonDepth: v.ROUTEMQ_MAX_JSON_DEPTH ?? d.ROUTEMQ_MAX_JSON_DEPTH,
      shutdownTimeoutMs: v.ROUTEMQ_SHUTDOWN_TIMEOUT_MS ?? d.ROUTEMQ_SHUTDOWN_TIMEOUT_MS,
      devBroker: v.ROUTEMQ_DEV_BROKER ?? d.ROUTEMQ_DEV_BROKER,
      heartbeatIntervalMs: v.ROUTEMQ_HEARTBEAT_INTERVAL_MS ?? d.ROUTEMQ_HEARTBEAT_INTERVAL_MS,
      stuckTimeoutMs: v.ROUTEMQ_STUCK_TIMEOUT_MS ?? d.ROUTEMQ_STUCK_TIMEOUT_MS,
      maxRestarts: v.ROUTEMQ_MAX_RESTARTS ?? d.ROUTEMQ_MAX_RESTARTS,
      maxCrashes: v.ROUTEMQ_MAX_CRASHES ?? d.ROUTEMQ_MAX_CRASHES,
      restartWindowMs: v.ROUTEMQ_RESTART_WINDOW_MS ?? d.ROUTEMQ_RESTART_WINDOW_MS,
      restartBaseMs: v.ROUTEMQ_RESTART_BASE_MS ?? d.ROUTEMQ_RESTART_BASE_MS,
      restartMaxMs: v.ROUTEMQ_RESTART_MAX_MS ?? d.ROUTEMQ_RESTART_MAX_MS,
      workerStartTimeoutMs: v.ROUTEMQ_WORKER_START_TIMEOUT_MS ?? d.ROUTEMQ_WORKER_START_TIMEOUT_MS,
      killTimeoutMs: v.ROUTEMQ_KILL_TIMEOUT_MS ?? d.ROUTEMQ_KILL_TIMEOUT_MS,
      controlSocket: controlSocketPath(v.ROUTEMQ_CONTROL_SOCKET, v.ROUTEMQ_STATE_DIR, cwd),
      registryPrefix: v.ROUTEMQ_REGISTRY_PREFIX ?? d.ROUTEMQ_REGISTRY_PREFIX,
      orphanGraceS: v.ROUTEMQ_ORPHAN_GRACE_S ?? d.ROUTEMQ_ORPHAN_GRACE_S,
      instrumentation: v.ROUTEMQ_INSTRUMENTATION === undefined ? undefined : resolve(cwd, v.ROUTEMQ_INSTRUMENTATION),
    },
    redis: {
      enabled: v.ENABLE_REDIS ?? d.ENABLE_REDIS,
      host: v.REDIS_HOST?.host ?? d.REDIS_HOST,
      port: v.REDIS_HOST?.port ?? v.REDIS_PORT ?? d.REDIS_PORT,
      db: v.REDIS_DB ?? d.REDIS_DB,
      username: v.REDIS_USERNAME,
      password: v.REDIS_PASSWORD,
      prefix: v.ROUTEMQ_REDIS_PREFIX ?? d.ROUTEMQ_REDIS_PREFIX,
      tls: redisTls(v, cwd),
    },
    scaling: {
      autoScale: v.WORKER_AUTO_SCALE ?? d.WORKER_AUTO_SCALE,
      minWorkers: v.WORKER_MIN_COUNT ?? d.WORKER_MIN_COUNT,
      maxWorkers: v.WORKER_MAX_COUNT ?? d.WORKER_MAX_COUNT,
      intervalMs: v.ROUTEMQ_SCALE_INTERVAL_MS ?? d.ROUTEMQ_SCALE_INTERVAL_MS,
      targetBusy: (v.ROUTEMQ_SCALE_TARGET_UTILIZATION ?? d.ROUTEMQ_SCALE_TARGET_UTILIZATION) / 100,
      queueDepthPerWorker: v.ROUTEMQ_SCALE_QUEUE_DEPTH_PER_WORKER ?? d.ROUTEMQ_SCALE_QUEUE_DEPTH_PER_WORKER,
      scaleUpCooldownMs: v.ROUTEMQ_SCALE_UP_COOLDOWN_MS ?? d.ROUTEMQ_SCALE_UP_COOLDOWN_MS,
      scaleDownCooldownMs: v.ROUTEMQ_SCALE_DOWN_COOLDOWN_MS ?? d.ROUTEMQ_SCALE_DOWN_COOLDOWN_MS,
      scaleDownStabilizationMs: v.ROUTEMQ_SCALE_DOWN_STABILIZATION_MS ?? d.ROUTEMQ_SCALE_DOWN_STABILIZATION_MS,
      leaseMs: v.ROUTEMQ_SCALE_LEASE_MS ?? d.ROUTEMQ_SCALE_LEASE_MS,
    },
    health: {
      httpEnabled: v.HEALTH_HTTP_ENABLED ?? d.HEALTH_HTTP_ENABLED,
      metricsEnabled: v.METRICS_HTTP_ENABLED ?? d.METRICS_HTTP_ENABLED,
      host: v.HEALTH_HTTP_HOST ?? d.HEALTH_HTTP_HOST,
      port: v.HEALTH_HTTP_PORT ?? d.HEALTH_HTTP_PORT,
      metricsPath: v.METRICS_PATH ?? d.METRICS_PATH,
      token: v.HEALTH_HTTP_TOKEN,
      intervalMs: v.ROUTEMQ_HEALTH_INTERVAL_MS ?? d.ROUTEMQ_HEALTH_INTERVAL_MS,
      maxMemoryMb: v.ROUTEMQ_MAX_MEMORY_MB,
    },
  };
}

function redisTls(v: ParsedConfigValues, cwd: string): ResolvedRedisTlsConfig | undefined {
  if (!(v.REDIS_TLS === true || v.REDIS_HOST?.tls === true)) return undefined;
  return {
    ...(v.REDIS_TLS_CA !== undefined ? { caFile: resolve(cwd, v.REDIS_TLS_CA) } : {}),
    ...(v.REDIS_TLS_CERT !== undefined ? { certFile: resolve(cwd, v.REDIS_TLS_CERT) } : {}),
    ...(v.REDIS_TLS_KEY !== undefined ? { keyFile: resolve(cwd, v.REDIS_TLS_KEY) } : {}),
  };
}
