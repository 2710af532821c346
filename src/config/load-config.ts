import { resolve } from 'node:path';
import { ErrorCodes, RouteMQError } from '../errors.js';
import { DEFAULT_BROKER, assemble, controlSocketPath } from './assemble.js';
import { checkTlsFiles, readLayers, readSecretFiles } from './raw-values.js';
import type { Issue, LoadConfigOptions, RawValues } from './raw-values.js';
import { CONFIG_DEFAULTS, FILE_VARIANTS, SECRET_VARIABLES, configSchema } from './schema.js';
import type { ConfigVariable, ParsedConfigValues, ResolvedConfig } from './schema.js';
import { Secret, REDACTED } from './secret.js';

export type { ResolvedConfig } from './schema.js';

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
  const raw = readLayers(options, cwd, issues);
  readSecretFiles(raw, cwd, issues);
  checkTlsFiles(raw, cwd, issues);
  const values = validate(raw, issues);
  checkCrossRules(values, raw, issues);
  if (issues.length > 0) throw configError(issues, raw);
  return deepFreeze(assemble(values, cwd));
}

/**
 * Resolve only the control socket's path, as {@link loadConfig} would: `ROUTEMQ_CONTROL_SOCKET` from `overrides`,
 * the environment or the env file, else its default, against `cwd`. No other variable is validated, so a bad
 * unrelated one (`MQTT_PORT=banana`) does not stop `routemq status|scale|stop|reload|worker restart`.
 *
 * @returns the absolute path, or `undefined` when `ROUTEMQ_CONTROL_SOCKET` is `none`.
 * @throws {@link RouteMQError} `RMQ_ERR_CONFIG_INVALID` when `ROUTEMQ_CONTROL_SOCKET` itself is invalid, or the env
 *   file named in `envFile` cannot be read.
 */
export function loadControlSocketPath(options: LoadConfigOptions = {}): string | undefined {
  const cwd = resolve(options.cwd ?? process.cwd());
  const issues: Issue[] = [];
  const raw = readLayers(options, cwd, issues);
  // The socket's own variable, and the state directory its default lives in.
  const names = ['ROUTEMQ_CONTROL_SOCKET', 'ROUTEMQ_STATE_DIR'] as const;
  const [socket, stateDir] = names.map((name) => {
    const result = configSchema.shape[name].safeParse(raw.get(name)?.value);
    if (!result.success)
      for (const issue of result.error.issues) issues.push({ variable: name, message: issue.message });
    return result.success ? result.data : undefined;
  });
  // Only the issues of these variables and of the env file: the others are not this caller's business.
  const mine = issues.filter(
    (issue) => (names as readonly string[]).includes(issue.variable) || issue.variable === 'envFile',
  );
  if (mine.length > 0) throw configError(mine, raw);
  return controlSocketPath(socket, stateDir, cwd);
}

/**
 * Resolve the configuration from `variables` alone: every other variable is ignored (its default applies), so a
 * bad value that does not concern the caller (`ROUTEMQ_CONCURRENCY=banana` for a command that only talks to the
 * broker) cannot stop it. The named variables, their `*_FILE` variants and the rules between them are checked as
 * {@link loadConfig} checks them.
 *
 * @returns A deeply frozen {@link ResolvedConfig} in which only `variables` (and their files) were read.
 * @throws {@link RouteMQError} `RMQ_ERR_CONFIG_INVALID` listing every invalid variable among `variables`, an unknown
 *   key in `overrides`, or an env file named in `envFile` that cannot be read.
 */
export function loadConfigSubset(
  variables: readonly ConfigVariable[],
  options: LoadConfigOptions = {},
): ResolvedConfig {
  const cwd = resolve(options.cwd ?? process.cwd());
  const issues: Issue[] = [];
  const wanted = new Set<string>(variables);
  for (const name of variables) {
    const file = FILE_VARIANTS[name];
    if (file !== undefined) wanted.add(file);
  }
  const raw: RawValues = new Map([...readLayers(options, cwd, issues)].filter(([name]) => wanted.has(name)));
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
  if (raw.has('REDIS_TLS_CERT') !== raw.has('REDIS_TLS_KEY')) {
    add(raw.has('REDIS_TLS_CERT') ? 'REDIS_TLS_KEY' : 'REDIS_TLS_CERT', 'REDIS_TLS_CERT and REDIS_TLS_KEY go together');
  }
  if (v.REDIS_TLS === false && v.REDIS_HOST?.tls === true) {
    add('REDIS_TLS', 'is false, but REDIS_HOST uses rediss:// (TLS); drop one of them');
  }
  const redisTlsOn = v.REDIS_TLS === true || v.REDIS_HOST?.tls === true;
  for (const name of ['REDIS_TLS_CA', 'REDIS_TLS_CERT', 'REDIS_TLS_KEY'] as const) {
    if (raw.has(name) && !redisTlsOn) add(name, 'needs TLS: set REDIS_TLS=true or use a rediss:// REDIS_HOST');
  }
  const redisPort = v.REDIS_HOST?.port;
  if (
    valid('REDIS_HOST', 'REDIS_PORT') &&
    redisPort !== undefined &&
    v.REDIS_PORT !== undefined &&
    redisPort !== v.REDIS_PORT
  ) {
    add('REDIS_PORT', `conflicts with port ${redisPort} in REDIS_HOST; give the port in one place`);
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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
