import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { ErrorCodes, RouteMQError } from '../errors.js';
import { DEFAULT_PORTS } from './broker-address.js';
import type { BrokerAddress } from './broker-address.js';
import { CONFIG_DEFAULTS, CONFIG_VARIABLES, FILE_VARIANTS, SECRET_VARIABLES, configSchema } from './schema.js';
import type { ConfigVariable, ParsedConfigValues, ResolvedConfig } from './schema.js';
import { Secret, REDACTED } from './secret.js';

export type { ResolvedConfig } from './schema.js';

/** Input of {@link loadConfig}. Every field is optional. */
export interface LoadConfigOptions {
  /** The environment to read. Only the names in `CONFIG_VARIABLES` are looked at. @defaultValue `process.env` */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The dotenv file, relative to `cwd`; `false` reads none. A file named here must exist.
   * @defaultValue `'<cwd>/.env'`, when it exists
   */
  envFile?: string | false;
  /** The directory relative paths resolve against. @defaultValue `process.cwd()` */
  cwd?: string;
  /** Highest-priority values keyed by env-var name (CLI flags). `undefined` means "not given". @defaultValue `{}` */
  overrides?: Readonly<Record<string, string | number | boolean | undefined>>;
}

/** One problem; `hideReceived` keeps the value out of the message. */
interface Issue {
  readonly variable: string;
  readonly message: string;
  readonly hideReceived?: boolean;
}

/** A raw value and where it came from (`.env`, the environment, overrides, or a `*_FILE` variable). */
interface RawValue {
  readonly value: string;
  readonly source: string;
}

type RawValues = Map<ConfigVariable, RawValue>;

/**
 * Resolve the configuration: defaults ← `.env` file ← `env` ← `overrides`. `process.env` is never modified. Empty
 * strings count as unset. `*_FILE` variables are read, every value is validated, and every problem is reported
 * together.
 *
 * @returns A deeply frozen {@link ResolvedConfig}; passwords are {@link Secret}s.
 * @throws {@link RouteMQError} `RMQ_ERR_CONFIG_INVALID` listing every invalid variable with what was expected and
 *   (except for secrets) the value received; also for an unknown key in `overrides` or an unreadable env file.
 */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const cwd = resolve(options.cwd ?? process.cwd());
  const issues: Issue[] = [];
  const envFile = options.envFile === false ? undefined : resolve(cwd, options.envFile ?? '.env');
  const raw = mergeLayers([
    [envFile ?? '.env', readEnvFile(envFile, options.envFile !== undefined, issues)],
    ['the environment', options.env ?? process.env],
    ['overrides', checkOverrides(options.overrides ?? {}, issues)],
  ]);
  readSecretFiles(raw, cwd, issues);
  checkTlsFiles(raw, cwd, issues);
  const values = validate(raw, issues);
  checkCrossRules(values, raw, issues);
  if (issues.length > 0) throw configError(issues, raw);
  return deepFreeze(assemble(values, cwd));
}

/**
 * A flat, log-safe view of a config: keys are dotted paths (`'mqtt.url'`), secrets show as `'[redacted]'`, and
 * unset values are omitted.
 */
export function describeConfig(config: ResolvedConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (value: unknown, prefix: string): void => {
    if (value === undefined) return;
    if (value instanceof Secret) out[prefix] = REDACTED;
    else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) walk(child, prefix === '' ? key : `${prefix}.${key}`);
    } else out[prefix] = value;
  };
  walk(config, '');
  return out;
}

function readEnvFile(file: string | undefined, required: boolean, issues: Issue[]): Record<string, string> {
  if (file === undefined) return {};
  try {
    return parseDotenv(readFileSync(file));
  } catch (err) {
    const code = errnoCode(err);
    // The default `.env` is optional; a file the caller named is not.
    if (!required && code === 'ENOENT') return {};
    issues.push({
      variable: 'envFile',
      message: code === 'ENOENT' ? `env file not found: ${file}` : `cannot read env file ${file} (${code})`,
    });
    return {};
  }
}

function checkOverrides(
  overrides: NonNullable<LoadConfigOptions['overrides']>,
  issues: Issue[],
): Record<string, string> {
  const known = new Set<string>(CONFIG_VARIABLES);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) {
    if (!known.has(key)) {
      issues.push({ variable: key, message: 'is not a configuration variable (overrides use env-var names)' });
    } else if (value !== undefined) {
      out[key] = String(value);
    }
  }
  return out;
}

function mergeLayers(layers: [string, Readonly<Record<string, string | undefined>>][]): RawValues {
  const raw: RawValues = new Map();
  for (const [source, values] of layers) {
    for (const name of CONFIG_VARIABLES) {
      const value = values[name];
      if (value !== undefined && value !== '') raw.set(name, { value, source });
    }
  }
  return raw;
}

function readSecretFiles(raw: RawValues, cwd: string, issues: Issue[]): void {
  for (const [name, fileVariable] of Object.entries(FILE_VARIANTS) as [ConfigVariable, ConfigVariable][]) {
    const file = raw.get(fileVariable);
    if (file === undefined) continue;
    const direct = raw.get(name);
    if (direct !== undefined) {
      const message = `cannot be used while ${name} is also set (from ${direct.source}); set only one`;
      issues.push({ variable: fileVariable, message });
      continue;
    }
    const path = resolve(cwd, file.value);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (err) {
      const code = errnoCode(err);
      const message = code === 'ENOENT' ? `file not found: ${path}` : `cannot read file ${path} (${code})`;
      issues.push({ variable: fileVariable, message, hideReceived: true });
      continue;
    }
    content = content.replace(/\r?\n$/, '');
    if (content === '') issues.push({ variable: fileVariable, message: `file is empty: ${path}`, hideReceived: true });
    else raw.set(name, { value: content, source: fileVariable });
  }
}

function checkTlsFiles(raw: RawValues, cwd: string, issues: Issue[]): void {
  for (const name of ['MQTT_TLS_CA', 'MQTT_TLS_CERT', 'MQTT_TLS_KEY'] as const) {
    const entry = raw.get(name);
    if (entry === undefined) continue;
    const path = resolve(cwd, entry.value);
    let message: string | undefined;
    try {
      if (!statSync(path).isFile()) message = `not a file: ${path}`;
    } catch (err) {
      const code = errnoCode(err);
      message = code === 'ENOENT' ? `file not found: ${path}` : `cannot read file ${path} (${code})`;
    }
    if (message !== undefined) issues.push({ variable: name, message, hideReceived: true });
  }
}

function validate(raw: RawValues, issues: Issue[]): ParsedConfigValues {
  const values: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(configSchema.shape)) {
    const result = field.safeParse(raw.get(name as ConfigVariable)?.value);
    if (result.success) values[name] = result.data;
    else {
      for (const issue of result.error.issues) {
        const hideReceived = (issue as { params?: { hideReceived?: boolean } }).params?.hideReceived === true;
        issues.push({ variable: name, message: issue.message, hideReceived });
      }
    }
  }
  return values;
}

function checkCrossRules(v: ParsedConfigValues, raw: RawValues, issues: Issue[]): void {
  const bad = new Set(issues.map((issue) => issue.variable));
  const valid = (...names: ConfigVariable[]): boolean => names.every((name) => !bad.has(name));
  const add = (variable: ConfigVariable, message: string): void => void issues.push({ variable, message });

  const broker = v.MQTT_BROKER ?? DEFAULT_BROKER;
  if (valid('MQTT_BROKER', 'MQTT_PORT') && broker.port !== undefined && v.MQTT_PORT !== undefined) {
    if (broker.port !== v.MQTT_PORT)
      add('MQTT_PORT', `conflicts with port ${broker.port} in MQTT_BROKER; give the port in one place`);
  }
  type Ordered =
    | 'MQTT_RECONNECT_MIN_MS'
    | 'MQTT_RECONNECT_MAX_MS'
    | 'ROUTEMQ_RETRY_BASE_MS'
    | 'ROUTEMQ_RETRY_MAX_MS'
    | 'WORKER_MIN_COUNT'
    | 'WORKER_MAX_COUNT';
  const ordered = (low: Ordered, high: Ordered): void => {
    const min = v[low] ?? CONFIG_DEFAULTS[low];
    const max = v[high] ?? CONFIG_DEFAULTS[high];
    if (!valid(low, high) || min <= max) return;
    if (raw.has(low)) add(low, `expected at most ${high} (${max})`);
    else add(high, `expected at least ${low} (${min})`);
  };
  ordered('MQTT_RECONNECT_MIN_MS', 'MQTT_RECONNECT_MAX_MS');
  ordered('ROUTEMQ_RETRY_BASE_MS', 'ROUTEMQ_RETRY_MAX_MS');
  ordered('WORKER_MIN_COUNT', 'WORKER_MAX_COUNT');
  // The autoscaler's signals, leader lease and desired counts live in Redis; without it, it would decide nothing.
  if (v.WORKER_AUTO_SCALE === true && (v.ENABLE_REDIS ?? CONFIG_DEFAULTS.ENABLE_REDIS) !== true) {
    add('WORKER_AUTO_SCALE', 'needs Redis: set ENABLE_REDIS=true (and REDIS_HOST), or turn autoscaling off');
  }

  const nodeEnv = v.NODE_ENV ?? CONFIG_DEFAULTS.NODE_ENV;
  if (v.MQTT_TLS_INSECURE === true && nodeEnv !== 'development') {
    add('MQTT_TLS_INSECURE', `disables certificate checks: only allowed with NODE_ENV=development, not '${nodeEnv}'`);
  }
  if (raw.has('MQTT_TLS_CERT') !== raw.has('MQTT_TLS_KEY')) {
    add(raw.has('MQTT_TLS_CERT') ? 'MQTT_TLS_KEY' : 'MQTT_TLS_CERT', 'MQTT_TLS_CERT and MQTT_TLS_KEY go together');
  }
  // TLS settings on a plain-text scheme would be ignored silently, and the user would believe the link is encrypted.
  if (valid('MQTT_BROKER') && (broker.protocol === 'mqtt' || broker.protocol === 'ws')) {
    for (const name of ['MQTT_TLS_CA', 'MQTT_TLS_CERT', 'MQTT_TLS_KEY'] as const) {
      if (raw.has(name)) add(name, `needs TLS, but MQTT_BROKER uses ${broker.protocol}://: use mqtts:// or wss://`);
    }
  }
}

const DEFAULT_BROKER: BrokerAddress = {
  protocol: 'mqtt',
  host: CONFIG_DEFAULTS.MQTT_BROKER,
  port: undefined,
  path: '',
};

function assemble(v: ParsedConfigValues, cwd: string): ResolvedConfig {
  const d = CONFIG_DEFAULTS;
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
      instanceId: v.ROUTEMQ_INSTANCE_ID ?? d.ROUTEMQ_INSTANCE_ID,
      concurrency: v.ROUTEMQ_CONCURRENCY ?? d.ROUTEMQ_CONCURRENCY,
      handlerTimeoutMs: v.ROUTEMQ_HANDLER_TIMEOUT_MS ?? d.ROUTEMQ_HANDLER_TIMEOUT_MS,
      maxAttempts: v.ROUTEMQ_MAX_ATTEMPTS ?? d.ROUTEMQ_MAX_ATTEMPTS,
      retryBaseMs: v.ROUTEMQ_RETRY_BASE_MS ?? d.ROUTEMQ_RETRY_BASE_MS,
      retryMaxMs: v.ROUTEMQ_RETRY_MAX_MS ?? d.ROUTEMQ_RETRY_MAX_MS,
      dlqPrefix: v.ROUTEMQ_DLQ_PREFIX ?? d.ROUTEMQ_DLQ_PREFIX,
      maxPayloadBytes: v.ROUTEMQ_MAX_PAYLOAD_BYTES ?? d.ROUTEMQ_MAX_PAYLOAD_BYTES,
      maxJsonDepth: v.ROUTEMQ_MAX_JSON_DEPTH ?? d.ROUTEMQ_MAX_JSON_DEPTH,
      shutdownTimeoutMs: v.ROUTEMQ_SHUTDOWN_TIMEOUT_MS ?? d.ROUTEMQ_SHUTDOWN_TIMEOUT_MS,
      devBroker: v.ROUTEMQ_DEV_BROKER ?? d.ROUTEMQ_DEV_BROKER,
      heartbeatIntervalMs: v.ROUTEMQ_HEARTBEAT_INTERVAL_MS ?? d.ROUTEMQ_HEARTBEAT_INTERVAL_MS,
      stuckTimeoutMs: v.ROUTEMQ_STUCK_TIMEOUT_MS ?? d.ROUTEMQ_STUCK_TIMEOUT_MS,
      maxRestarts: v.ROUTEMQ_MAX_RESTARTS ?? d.ROUTEMQ_MAX_RESTARTS,
      restartWindowMs: v.ROUTEMQ_RESTART_WINDOW_MS ?? d.ROUTEMQ_RESTART_WINDOW_MS,
      restartBaseMs: v.ROUTEMQ_RESTART_BASE_MS ?? d.ROUTEMQ_RESTART_BASE_MS,
      restartMaxMs: v.ROUTEMQ_RESTART_MAX_MS ?? d.ROUTEMQ_RESTART_MAX_MS,
      workerStartTimeoutMs: v.ROUTEMQ_WORKER_START_TIMEOUT_MS ?? d.ROUTEMQ_WORKER_START_TIMEOUT_MS,
      killTimeoutMs: v.ROUTEMQ_KILL_TIMEOUT_MS ?? d.ROUTEMQ_KILL_TIMEOUT_MS,
      controlSocket:
        (v.ROUTEMQ_CONTROL_SOCKET ?? d.ROUTEMQ_CONTROL_SOCKET) === 'none'
          ? undefined
          : resolve(cwd, v.ROUTEMQ_CONTROL_SOCKET ?? d.ROUTEMQ_CONTROL_SOCKET),
    },
    redis: {
      enabled: v.ENABLE_REDIS ?? d.ENABLE_REDIS,
      host: v.REDIS_HOST ?? d.REDIS_HOST,
      port: v.REDIS_PORT ?? d.REDIS_PORT,
      db: v.REDIS_DB ?? d.REDIS_DB,
      username: v.REDIS_USERNAME,
      password: v.REDIS_PASSWORD,
      prefix: v.ROUTEMQ_REDIS_PREFIX ?? d.ROUTEMQ_REDIS_PREFIX,
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

function configError(issues: readonly Issue[], raw: RawValues): RouteMQError {
  const secrets = new Set<string>(SECRET_VARIABLES);
  const lines = new Set<string>();
  for (const issue of issues) {
    const entry = raw.get(issue.variable as ConfigVariable);
    let line = `  - ${issue.variable}: ${issue.message}`;
    // A secret's value never reaches a message, not even a wrong one: it may be the right password with a typo.
    if (entry !== undefined && issue.hideReceived !== true && !secrets.has(issue.variable)) {
      line += `; received ${JSON.stringify(entry.value.length > 80 ? `${entry.value.slice(0, 77)}...` : entry.value)}`;
    }
    if (entry !== undefined) line += ` (from ${entry.source})`;
    lines.add(line);
  }
  const count = lines.size === 1 ? '1 problem' : `${lines.size} problems`;
  return new RouteMQError(ErrorCodes.CONFIG_INVALID, `Invalid configuration (${count}):\n${[...lines].join('\n')}`);
}

function errnoCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'unknown error';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
