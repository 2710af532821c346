/**
 * @module
 * Route options: what `Router.on` accepts ({@link RouteOptions}) and the check that refuses a bad one at
 * registration, naming the option, the value, the pattern and the route file.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Middleware, QoS } from '../types.js';
import { inSource, isValidGroupName, topicNameProblem } from './topic-pattern.js';

/**
 * Options of `Router.on`.
 *
 * @typeParam S - the schema's type (any Standard Schema validator), which types `ctx.payload`.
 */
export interface RouteOptions<S extends StandardSchemaV1 | undefined = StandardSchemaV1 | undefined> {
  /** Subscription QoS. @defaultValue 1 */
  qos?: QoS;
  /** Subscribe through a shared subscription (`$share/<group>/<filter>`), load-balanced across workers. @defaultValue false */
  shared?: boolean;
  /**
   * Worker processes for this shared route. Needs `shared: true`. An integer from 1 to `WORKER_MAX_COUNT` (default
   * 10), checked when the pool is planned (`RMQ_ERR_ROUTE_OPTION_INVALID`). @defaultValue 1
   */
  workerCount?: number;
  /** Share group, `^[A-Za-z0-9_-]{1,64}$`. Only used when `shared`. @defaultValue the application's default group */
  group?: string;
  /** Route middleware; runs after the group middleware. @defaultValue [] */
  middleware?: readonly Middleware[];
  /**
   * A schema the JSON payload must pass; `ctx.payload` is its output. Any validator that implements
   * [Standard Schema](https://standardschema.dev) v1 (zod 3.24+ and 4, valibot 1, arktype 2…). A payload it refuses
   * is dead-lettered with `RMQ_ERR_PAYLOAD_SCHEMA` and the first three issues. @defaultValue undefined (no validation)
   */
  schema?: S;
  /** Handler deadline in ms, a positive integer ≤ 2^31-1. @defaultValue the application-wide setting */
  timeoutMs?: number;
  /** Tries before the message goes to the dead-letter topic, an integer ≥ 1. @defaultValue the application-wide setting */
  maxAttempts?: number;
  /** Topic to publish failed messages to (no wildcards). @defaultValue the application-wide setting */
  deadLetterTopic?: string;
  /** Messages handled at once per process for this route, an integer ≥ 1. @defaultValue the application-wide setting */
  concurrency?: number;
  /** Worker pool for this shared route, `^[A-Za-z0-9_-]{1,64}$`. Needs `shared: true`. @defaultValue undefined */
  pool?: string;
  /** Topic-safe route name for metrics and dead letters. @defaultValue derived from the pattern (`+`→`*`, `#`→`**`) */
  name?: string;
  /**
   * What this route does with the retained messages the broker sends when it subscribes (a main-process route
   * only):
   *
   * - `'once'`: a retained message runs once per persistent session, not again at each start. On MQTT 5 the
   *   route subscribes with Retain Handling 1 (retained messages only for a new subscription). On MQTT 3.1.1,
   *   where the broker sends them again at every SUBSCRIBE, a retained copy is acked without running when the
   *   CONNACK said the session was kept (it saw that copy before), unless it is a redelivery (DUP) of one that
   *   was never acked. So on 3.1.1 a route added to an existing session does not get the retained messages
   *   already there; use `'every-start'` for such a route.
   * - `'every-start'`: the retained message runs at every start of the process (MQTT 5: Retain Handling 0 on the
   *   first subscribe of the process, 1 on reconnects), for routes that rebuild in-memory state from retained
   *   configuration. A reconnect that keeps the session does not run it again; one that lost the session does.
   *
   * Shared routes never run retained messages, as MQTT 5 §4.8.2 says (Mosquitto 2.0.11 sends them to every member
   * that subscribes, so each worker would run one copy): they subscribe with Retain Handling 2, and a retained copy
   * that arrives anyway is acked without running. So this option is refused on a shared route.
   *
   * @defaultValue 'once'
   */
  retained?: RetainedMode;
}

/** See {@link RouteOptions.retained}. */
export type RetainedMode = 'once' | 'every-start';

/** setTimeout's largest delay; a larger one fires at once (Node clamps it to 1 ms). */
const MAX_TIMEOUT_MS = 2_147_483_647;

type OptionCheck = (value: unknown, options: Readonly<Record<string, unknown>>) => string | undefined;

const positiveInteger: OptionCheck = (value) =>
  Number.isSafeInteger(value) && (value as number) >= 1 ? undefined : 'must be an integer >= 1';

const OPTION_CHECKS: Readonly<Record<keyof RouteOptions, OptionCheck>> = {
  qos: (value) => (value === 0 || value === 1 || value === 2 ? undefined : 'must be 0, 1 or 2'),
  shared: (value) => (typeof value === 'boolean' ? undefined : 'must be a boolean'),
  workerCount: (value, options) =>
    positiveInteger(value, options) ??
    (options.shared === true ? undefined : 'needs shared: true (worker processes split a shared subscription)'),
  group: () => undefined, // checked separately: its own error code
  middleware: (value) =>
    Array.isArray(value) && value.every((m) => typeof m === 'function')
      ? undefined
      : 'must be an array of middleware functions',
  schema: (value) =>
    // Some validators are functions with properties (arktype's types are), so both kinds are accepted.
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as Partial<StandardSchemaV1>)['~standard']?.validate === 'function'
      ? undefined
      : 'must be a Standard Schema validator (zod 3.24+, valibot, arktype…)',
  timeoutMs: (value, options) =>
    positiveInteger(value, options) ??
    ((value as number) <= MAX_TIMEOUT_MS ? undefined : `must be <= ${MAX_TIMEOUT_MS}`),
  maxAttempts: positiveInteger,
  deadLetterTopic: (value) => topicNameProblem(value),
  concurrency: positiveInteger,
  pool: (value, options) =>
    !isValidGroupName(value)
      ? 'must match ^[A-Za-z0-9_-]{1,64}$'
      : options.shared === true
        ? undefined
        : 'needs shared: true (pools hold the workers of shared routes)',
  name: (value) => topicNameProblem(value),
  retained: (value, options) =>
    value !== 'once' && value !== 'every-start'
      ? "must be 'once' or 'every-start'"
      : options.shared === true
        ? 'is not for shared routes: they never run retained messages (MQTT 5 §4.8.2); ' +
          'declare a main-process route (shared: false) for retained state'
        : undefined,
};

/**
 * Validate route options (unknown keys included) and split off the middleware.
 *
 * @throws RouteMQError `RMQ_ERR_ROUTE_OPTION_INVALID` naming option, value, pattern and file;
 *   `RMQ_ERR_GROUP_INVALID` for a bad `group`.
 */
export function validateRouteOptions(
  options: unknown,
  pattern: string,
  source: string | undefined,
): { middleware: readonly Middleware[]; options: Readonly<Omit<RouteOptions, 'middleware'>> } {
  const where = `for '${pattern}'${inSource(source)}`;
  if (options === undefined) return { middleware: [], options: Object.freeze({}) };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new RouteMQError(
      ErrorCodes.ROUTE_OPTION_INVALID,
      `Invalid route options ${formatValue(options)} ${where}: expected an object`,
    );
  }
  const given = options as Record<string, unknown>;
  const validated: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    const check = OPTION_CHECKS[key as keyof RouteOptions] as OptionCheck | undefined;
    const problem =
      check === undefined ? `unknown option (known: ${Object.keys(OPTION_CHECKS).join(', ')})` : check(value, given);
    if (problem !== undefined) {
      throw new RouteMQError(
        ErrorCodes.ROUTE_OPTION_INVALID,
        `Invalid route option ${key}=${formatValue(value)} ${where}: ${problem}`,
      );
    }
    if (key === 'group' && !isValidGroupName(value)) {
      throw new RouteMQError(
        ErrorCodes.GROUP_INVALID,
        `Invalid share group ${formatValue(value)} ${where}: a group name must match ^[A-Za-z0-9_-]{1,64}$`,
      );
    }
    if (key !== 'middleware') validated[key] = value;
  }
  // Every key of `validated` passed its check above, so it is a valid RouteOptions minus middleware.
  const checked = validated as Omit<RouteOptions, 'middleware'>;
  return { middleware: (given.middleware as readonly Middleware[] | undefined) ?? [], options: Object.freeze(checked) };
}

/** A short, single-line rendering of any value for error messages. */
export function formatValue(value: unknown): string {
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || value === undefined) return String(value);
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
