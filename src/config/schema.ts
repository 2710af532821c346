import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_PORTS } from './broker-address.js';
import {
  MAX_TIMER_MS,
  bool,
  broker,
  host,
  int,
  oneOf,
  path,
  pattern,
  redisHost,
  secret,
  topicName,
  userName,
} from './fields.js';

/**
 * Turn a host name into a valid instance id: every character outside `A-Z a-z 0-9 _ . -` becomes `-`, and the
 * result is cut to 64 characters.
 *
 * @returns The sanitised id, or `'routemq'` when nothing is left.
 */
export function sanitizeInstanceId(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64);
  return cleaned.length > 0 ? cleaned : 'routemq';
}

/**
 * Every configuration variable with its default, keyed by env-var name. The one place defaults live; `undefined`
 * means "unset". The key order is the order of {@link CONFIG_VARIABLES}, `.env.example` and `docs/configuration.md`.
 *
 * `MQTT_PORT`'s default depends on the broker URL's scheme: 1883 (mqtt), 8883 (mqtts), 80 (ws), 443 (wss).
 */
export const CONFIG_DEFAULTS = Object.freeze({
  NODE_ENV: 'production',
  MQTT_BROKER: 'localhost',
  MQTT_PORT: DEFAULT_PORTS.mqtt,
  MQTT_USERNAME: undefined,
  MQTT_USERNAME_FILE: undefined,
  MQTT_PASSWORD: undefined,
  MQTT_PASSWORD_FILE: undefined,
  MQTT_CLIENT_ID: 'routemq',
  MQTT_GROUP_NAME: 'mqtt_framework_group',
  MQTT_PROTOCOL_VERSION: 5,
  MQTT_KEEPALIVE_S: 30,
  MQTT_CLEAN_SESSION: false,
  ROUTEMQ_ALLOW_CLEAN_SESSION: false,
  MQTT_SESSION_EXPIRY_S: 3600,
  MQTT_RECEIVE_MAXIMUM: 256,
  MQTT_CONNECT_TIMEOUT_MS: 10_000,
  MQTT_RECONNECT_MIN_MS: 500,
  MQTT_RECONNECT_MAX_MS: 30_000,
  MQTT_TLS_CA: undefined,
  MQTT_TLS_CERT: undefined,
  MQTT_TLS_KEY: undefined,
  MQTT_TLS_INSECURE: false,
  LOG_LEVEL: 'info',
  LOG_PRETTY: undefined,
  ROUTEMQ_ROUTERS_DIR: 'routers',
  ROUTEMQ_INSTANCE_ID: sanitizeInstanceId(hostname()),
  ROUTEMQ_CONCURRENCY: 64,
  ROUTEMQ_HANDLER_TIMEOUT_MS: 30_000,
  ROUTEMQ_MAX_ATTEMPTS: 3,
  ROUTEMQ_RETRY_BASE_MS: 100,
  ROUTEMQ_RETRY_MAX_MS: 5000,
  ROUTEMQ_DLQ_PREFIX: 'routemq/dlq',
  ROUTEMQ_MAX_PAYLOAD_BYTES: 1_048_576,
  ROUTEMQ_MAX_JSON_DEPTH: 64,
  ROUTEMQ_SHUTDOWN_TIMEOUT_MS: 10_000,
  ROUTEMQ_DEV_BROKER: 'auto',
  ROUTEMQ_HEARTBEAT_INTERVAL_MS: 1000,
  ROUTEMQ_STUCK_TIMEOUT_MS: 30_000,
  ROUTEMQ_MAX_RESTARTS: 10,
  ROUTEMQ_RESTART_WINDOW_MS: 300_000,
  ROUTEMQ_RESTART_BASE_MS: 500,
  ROUTEMQ_RESTART_MAX_MS: 30_000,
  ROUTEMQ_WORKER_START_TIMEOUT_MS: 30_000,
  ROUTEMQ_KILL_TIMEOUT_MS: 5000,
  ROUTEMQ_CONTROL_SOCKET: '.routemq/control.sock',
  ENABLE_REDIS: false,
  REDIS_HOST: 'localhost',
  REDIS_PORT: 6379,
  REDIS_DB: 0,
  REDIS_USERNAME: undefined,
  REDIS_PASSWORD: undefined,
  REDIS_PASSWORD_FILE: undefined,
  REDIS_TLS: false,
  REDIS_TLS_CA: undefined,
  REDIS_TLS_CERT: undefined,
  REDIS_TLS_KEY: undefined,
  ROUTEMQ_REDIS_PREFIX: 'routemq:',
  WORKER_AUTO_SCALE: false,
  WORKER_MIN_COUNT: 1,
  WORKER_MAX_COUNT: 10,
  ROUTEMQ_SCALE_INTERVAL_MS: 5000,
  ROUTEMQ_SCALE_TARGET_UTILIZATION: 70,
  ROUTEMQ_SCALE_QUEUE_DEPTH_PER_WORKER: 100,
  ROUTEMQ_SCALE_UP_COOLDOWN_MS: 30_000,
  ROUTEMQ_SCALE_DOWN_COOLDOWN_MS: 60_000,
  ROUTEMQ_SCALE_DOWN_STABILIZATION_MS: 300_000,
  ROUTEMQ_SCALE_LEASE_MS: 15_000,
  HEALTH_HTTP_ENABLED: false,
  HEALTH_HTTP_HOST: '127.0.0.1',
  HEALTH_HTTP_PORT: 8080,
  HEALTH_HTTP_TOKEN: undefined,
  HEALTH_HTTP_TOKEN_FILE: undefined,
  METRICS_HTTP_ENABLED: false,
  METRICS_PATH: '/metrics',
  ROUTEMQ_HEALTH_INTERVAL_MS: 2000,
  ROUTEMQ_MAX_MEMORY_MB: undefined,
} as const);

/** The name of one configuration variable, e.g. `'MQTT_PORT'`. */
export type ConfigVariable = keyof typeof CONFIG_DEFAULTS;

/** Every env var the configuration reads, in a stable order (the order of {@link CONFIG_DEFAULTS}). */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = Object.freeze(
  Object.keys(CONFIG_DEFAULTS) as ConfigVariable[],
);

/** Variables whose values are secrets: held as {@link Secret}s and never shown in an error message or a log line. */
export const SECRET_VARIABLES: readonly ConfigVariable[] = Object.freeze([
  'MQTT_PASSWORD',
  'REDIS_PASSWORD',
  'HEALTH_HTTP_TOKEN',
]);

/** Variables that may be read from a file instead, mapped to the `*_FILE` variable naming that file. */
export const FILE_VARIANTS: Readonly<Partial<Record<ConfigVariable, ConfigVariable>>> = Object.freeze({
  MQTT_USERNAME: 'MQTT_USERNAME_FILE',
  MQTT_PASSWORD: 'MQTT_PASSWORD_FILE',
  REDIS_PASSWORD: 'REDIS_PASSWORD_FILE',
  HEALTH_HTTP_TOKEN: 'HEALTH_HTTP_TOKEN_FILE',
});

export const configSchema = z.object({
  NODE_ENV: z.string().optional(),
  MQTT_BROKER: broker,
  MQTT_PORT: int(1, 65535),
  MQTT_USERNAME: userName,
  MQTT_USERNAME_FILE: path,
  MQTT_PASSWORD: secret,
  MQTT_PASSWORD_FILE: path,
  MQTT_CLIENT_ID: pattern(/^[A-Za-z0-9_.-]{1,40}$/, '1-40 characters of A-Z a-z 0-9 _ . -'),
  MQTT_GROUP_NAME: pattern(/^[A-Za-z0-9_-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 _ -'),
  MQTT_PROTOCOL_VERSION: z
    .string()
    .trim()
    .pipe(z.enum(['4', '5'], { error: 'expected one of 4, 5' }))
    .transform((v): 4 | 5 => (v === '4' ? 4 : 5))
    .optional(),
  MQTT_KEEPALIVE_S: int(5, 3600),
  MQTT_CLEAN_SESSION: bool,
  ROUTEMQ_ALLOW_CLEAN_SESSION: bool,
  MQTT_SESSION_EXPIRY_S: int(1, 4_294_967_295),
  MQTT_RECEIVE_MAXIMUM: int(1, 65535),
  MQTT_CONNECT_TIMEOUT_MS: int(1, MAX_TIMER_MS),
  MQTT_RECONNECT_MIN_MS: int(1, MAX_TIMER_MS),
  MQTT_RECONNECT_MAX_MS: int(1, MAX_TIMER_MS),
  MQTT_TLS_CA: path,
  MQTT_TLS_CERT: path,
  MQTT_TLS_KEY: path,
  MQTT_TLS_INSECURE: bool,
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  LOG_PRETTY: bool,
  ROUTEMQ_ROUTERS_DIR: path,
  ROUTEMQ_INSTANCE_ID: pattern(/^[A-Za-z0-9_.-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 _ . -'),
  ROUTEMQ_CONCURRENCY: int(1, 65535),
  ROUTEMQ_HANDLER_TIMEOUT_MS: int(1, MAX_TIMER_MS),
  ROUTEMQ_MAX_ATTEMPTS: int(1, 100),
  ROUTEMQ_RETRY_BASE_MS: int(0, MAX_TIMER_MS),
  ROUTEMQ_RETRY_MAX_MS: int(0, MAX_TIMER_MS),
  ROUTEMQ_DLQ_PREFIX: topicName,
  ROUTEMQ_MAX_PAYLOAD_BYTES: int(1, 268_435_455),
  ROUTEMQ_MAX_JSON_DEPTH: int(1, 10_000),
  ROUTEMQ_SHUTDOWN_TIMEOUT_MS: int(1, MAX_TIMER_MS),
  ROUTEMQ_DEV_BROKER: oneOf(['auto', 'never']),
  ROUTEMQ_HEARTBEAT_INTERVAL_MS: int(50, 60_000),
  ROUTEMQ_STUCK_TIMEOUT_MS: int(100, MAX_TIMER_MS),
  ROUTEMQ_MAX_RESTARTS: int(0, 100_000),
  ROUTEMQ_RESTART_WINDOW_MS: int(1, MAX_TIMER_MS),
  ROUTEMQ_RESTART_BASE_MS: int(0, MAX_TIMER_MS),
  ROUTEMQ_RESTART_MAX_MS: int(0, MAX_TIMER_MS),
  ROUTEMQ_WORKER_START_TIMEOUT_MS: int(100, MAX_TIMER_MS),
  ROUTEMQ_KILL_TIMEOUT_MS: int(1, MAX_TIMER_MS),
  ROUTEMQ_CONTROL_SOCKET: path,
  ENABLE_REDIS: bool,
  REDIS_HOST: redisHost,
  REDIS_PORT: int(1, 65535),
  REDIS_DB: int(0, 15),
  REDIS_USERNAME: userName,
  REDIS_PASSWORD: secret,
  REDIS_PASSWORD_FILE: path,
  REDIS_TLS: bool,
  REDIS_TLS_CA: path,
  REDIS_TLS_CERT: path,
  REDIS_TLS_KEY: path,
  ROUTEMQ_REDIS_PREFIX: pattern(/^[\x21-\x7e]{1,128}$/, '1-128 printable ASCII characters without spaces'),
  WORKER_AUTO_SCALE: bool,
  WORKER_MIN_COUNT: int(1, 1000),
  WORKER_MAX_COUNT: int(1, 1000),
  ROUTEMQ_SCALE_INTERVAL_MS: int(100, MAX_TIMER_MS),
  ROUTEMQ_SCALE_TARGET_UTILIZATION: int(1, 100),
  ROUTEMQ_SCALE_QUEUE_DEPTH_PER_WORKER: int(1, 1_000_000_000),
  ROUTEMQ_SCALE_UP_COOLDOWN_MS: int(0, MAX_TIMER_MS),
  ROUTEMQ_SCALE_DOWN_COOLDOWN_MS: int(0, MAX_TIMER_MS),
  ROUTEMQ_SCALE_DOWN_STABILIZATION_MS: int(0, MAX_TIMER_MS),
  ROUTEMQ_SCALE_LEASE_MS: int(1000, MAX_TIMER_MS),
  HEALTH_HTTP_ENABLED: bool,
  HEALTH_HTTP_HOST: host,
  HEALTH_HTTP_PORT: int(0, 65535),
  HEALTH_HTTP_TOKEN: secret,
  HEALTH_HTTP_TOKEN_FILE: path,
  METRICS_HTTP_ENABLED: bool,
  METRICS_PATH: pattern(/^\/[A-Za-z0-9_\-/.]{0,100}$/, "a path starting with '/'"),
  ROUTEMQ_HEALTH_INTERVAL_MS: int(100, MAX_TIMER_MS),
  ROUTEMQ_MAX_MEMORY_MB: int(16, 1_048_576),
} satisfies Record<ConfigVariable, z.ZodType>);

/** Each variable's validated value, `undefined` when unset (defaults not applied). */
export type ParsedConfigValues = z.output<typeof configSchema>;

export type {
  ResolvedTlsConfig,
  ResolvedMqttConfig,
  ResolvedLogConfig,
  ResolvedRouteMQConfig,
  ResolvedRedisConfig,
  ResolvedRedisTlsConfig,
  ResolvedConfig,
  ResolvedScalingConfig,
  ResolvedHealthConfig,
} from './resolved.js';
