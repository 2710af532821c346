/**
 * @module
 * The {@link Router}: where route files declare topic patterns, handlers, middleware, schemas and pools.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Handler, Middleware, QoS } from '../types.js';
import type { JoinPattern, ParamsOf, PayloadOf } from './params.js';
import { inSource, isValidGroupName, joinPrefix, parsePattern, topicNameProblem } from './topic-pattern.js';
import type { ParsedPattern } from './topic-pattern.js';

/**
 * Options of {@link Router.on}.
 *
 * @typeParam S - the schema's type (any Standard Schema validator), which types `ctx.payload`.
 */
export interface RouteOptions<S extends StandardSchemaV1 | undefined = StandardSchemaV1 | undefined> {
  /** Subscription QoS. @defaultValue 1 */
  qos?: QoS;
  /** Subscribe through a shared subscription (`$share/<group>/<filter>`), load-balanced across workers. @defaultValue false */
  shared?: boolean;
  /** Worker processes for this shared route. Needs `shared: true`. An integer ≥ 1. @defaultValue 1 */
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

/** Options of {@link Router.group}. @typeParam G - the prefix literal, which types the params of nested routes. */
export interface GroupOptions<G extends string = string> {
  /**
   * Prefix of every nested pattern (and inner prefix), joined with one `/`: the one written at its end or at the
   * pattern's start, or else one added (`'sensors'` + `'temp'` is `sensors/temp`). A `/` on both sides, or an empty
   * prefix, is refused with `RMQ_ERR_PATTERN_INVALID`. @defaultValue none
   */
  prefix?: G;
  /** Middleware run before the middleware of every nested route; outer groups first. @defaultValue [] */
  middleware?: readonly Middleware[];
}

/** A route as declared: pattern validated, group prefix and group middleware applied. Frozen. */
export interface RouteDeclaration {
  /** The pattern as written, with the group prefixes joined to it. */
  readonly pattern: string;
  readonly parsed: ParsedPattern;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- routes of every param and payload type share one list
  readonly handler: Handler<any, any>;
  /** Group middleware (outer first), then route middleware. */
  readonly middleware: readonly Middleware[];
  /** The validated options, without `middleware`; defaults are applied by `compileRoutes`. */
  readonly options: Readonly<Omit<RouteOptions, 'middleware'>>;
  /** The route file that declared the route, when known. */
  readonly source: string | undefined;
}

/** Anything holding route declarations: a {@link Router}, possibly from another copy of this module. */
export interface RouteDeclarationSource {
  readonly declarations: readonly RouteDeclaration[];
}

interface RouterState {
  readonly declarations: RouteDeclaration[];
  source: string | undefined;
}

interface RouterScope {
  /** `undefined` outside any group with a prefix. */
  readonly prefix: string | undefined;
  readonly middleware: readonly Middleware[];
}

const GROUP_OPTION_KEYS = new Set(['prefix', 'middleware']);

/**
 * Collects route declarations: `router.on(pattern, handler, options)` and nested `router.group(...)`. Everything
 * is validated at registration; `compileRoutes()` turns the declarations into a matching table.
 *
 * @typeParam Prefix - the group prefix of this (nested) router, which types `ctx.params`. @defaultValue ''
 */
export class Router<Prefix extends string = ''> {
  #state: RouterState = { declarations: [], source: undefined };
  #scope: RouterScope = { prefix: undefined, middleware: [] };

  /** Every declaration so far, in registration order, including those of nested groups. */
  get declarations(): readonly RouteDeclaration[] {
    return this.#state.declarations;
  }

  /** The route file now being loaded, recorded on each new declaration. */
  get source(): string | undefined {
    return this.#state.source;
  }

  /** Set the route file that the next declarations come from (discovery calls this before running each file). */
  setSource(file: string | undefined): void {
    this.#state.source = file;
  }

  /**
   * Declare a route. `ctx.params` is typed from the pattern's `{name}` levels and `ctx.payload` from `schema`.
   *
   * @param pattern - levels split on `/`: literals, `{name}`, `+`, and `#` as the last level. Every level is kept,
   *   empty ones included: `/devices/{id}/status` subscribes to `/devices/+/status`, and `a/b/` to `a/b/`.
   * @throws RouteMQError `RMQ_ERR_PATTERN_INVALID` / `RMQ_ERR_PATTERN_SHARE_PREFIX` for a bad pattern, or one that
   *   cannot be joined to the group prefix without guessing (see {@link GroupOptions.prefix}),
   *   `RMQ_ERR_ROUTE_OPTION_INVALID` for a bad option or a handler that is not a function, `RMQ_ERR_GROUP_INVALID` for
   *   a bad `group` name. Messages name the pattern and the route file.
   *
   * @example
   * ```ts
   * import { z } from 'zod';
   * import type { Router } from 'routemq';
   *
   * export default (router: Router): void => {
   *   router.on(
   *     'sensors/{sensorId}/telemetry',
   *     async (ctx) => {
   *       // ctx.params.sensorId: string; ctx.payload: { v: number }
   *       await ctx.publish(`alerts/${ctx.params.sensorId}`, { v: ctx.payload.v }, { qos: 1 });
   *     },
   *     { schema: z.object({ v: z.number() }), qos: 1, shared: true, workerCount: 2 },
   *   );
   * };
   * ```
   */
  on<P extends string, S extends StandardSchemaV1 | undefined = undefined>(
    pattern: P,
    handler: Handler<ParamsOf<JoinPattern<Prefix, P>>, PayloadOf<S>>,
    options?: RouteOptions<S>,
  ): this {
    const source = this.#state.source;
    if (typeof pattern !== 'string' || pattern === '') {
      const problem = typeof pattern === 'string' ? 'the pattern is empty' : 'expected a string';
      throw new RouteMQError(
        ErrorCodes.PATTERN_INVALID,
        `Invalid topic pattern ${formatValue(pattern)}${inSource(source)}: ${problem}`,
      );
    }
    const full = joinPrefix(this.#scope.prefix, pattern, { source });
    const parsed = parsePattern(full, { source, raw: pattern });
    if (typeof handler !== 'function') {
      throw new RouteMQError(
        ErrorCodes.ROUTE_OPTION_INVALID,
        `Invalid handler for '${full}'${inSource(source)}: expected a function, got ${formatValue(handler)}`,
      );
    }
    const { middleware, options: validated } = validateRouteOptions(options, full, source);
    this.#state.declarations.push(
      Object.freeze({
        pattern: full,
        parsed,
        handler,
        middleware: Object.freeze([...this.#scope.middleware, ...middleware]),
        options: validated,
        source,
      }),
    );
    return this;
  }

  /**
   * Declare routes under a common prefix and middleware. The callback runs at once and must be synchronous.
   *
   * @throws RouteMQError `RMQ_ERR_PATTERN_INVALID` for a prefix that is empty or not a string, or that cannot be
   *   joined to the outer prefix without guessing,
   *   `RMQ_ERR_ROUTE_OPTION_INVALID` for bad group options, a callback that is not a function or returns a promise.
   */
  group<G extends string = ''>(options: GroupOptions<G>, fn: (router: Router<JoinPattern<Prefix, G>>) => void): this {
    const source = this.#state.source;
    const fail = (what: string) =>
      new RouteMQError(
        ErrorCodes.ROUTE_OPTION_INVALID,
        `Invalid group (prefix ${formatValue(options?.prefix)})${inSource(source)}: ${what}`,
      );
    if (typeof options !== 'object' || options === null) throw fail(`options must be an object`);
    for (const key of Object.keys(options)) {
      if (!GROUP_OPTION_KEYS.has(key)) throw fail(`unknown option '${key}' (known: prefix, middleware)`);
    }
    const prefix: unknown = options.prefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix === '')) {
      throw new RouteMQError(
        ErrorCodes.PATTERN_INVALID,
        `Invalid group prefix ${formatValue(prefix)}${inSource(source)}: ` +
          (prefix === '' ? "it is empty; leave 'prefix' out for a group without one" : 'expected a string'),
      );
    }
    const middleware: unknown = options.middleware ?? [];
    if (!Array.isArray(middleware) || middleware.some((m) => typeof m !== 'function')) {
      throw fail(`middleware must be an array of functions, got ${formatValue(middleware)}`);
    }
    if (typeof fn !== 'function') throw fail(`the callback must be a function, got ${formatValue(fn)}`);

    const child = new Router<JoinPattern<Prefix, G>>();
    child.#state = this.#state;
    child.#scope = {
      prefix: prefix === undefined ? this.#scope.prefix : joinPrefix(this.#scope.prefix, prefix, { source }),
      middleware: [...this.#scope.middleware, ...(middleware as Middleware[])],
    };
    const result: unknown = fn(child);
    if (isThenable(result)) {
      // Routes declared after an await would race compilation; refuse instead of losing them silently.
      Promise.resolve(result).catch(() => undefined);
      throw fail('the callback returned a promise; declare group routes synchronously');
    }
    return this;
  }

  /**
   * Append the declarations of another router (e.g. a `Router` a route file exported), keeping their order.
   * Declarations without a source get `source`.
   *
   * @param source - the file to record on declarations that have none. @defaultValue this router's current source
   */
  merge(other: RouteDeclarationSource, source: string | undefined = this.#state.source): this {
    // A group's router shares this router's list: merging it would declare every route twice.
    if (other.declarations === this.#state.declarations) return this;
    for (const declaration of [...other.declarations]) {
      this.#state.declarations.push(
        declaration.source === undefined ? Object.freeze({ ...declaration, source }) : declaration,
      );
    }
    return this;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

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
function validateRouteOptions(
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
function formatValue(value: unknown): string {
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
