/**
 * @module
 * The {@link Router}: where route files declare topic patterns, handlers, middleware, schemas and pools.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Handler, Middleware } from '../types.js';
import type { JoinPattern, ParamsOf, PayloadOf } from './params.js';
import { formatValue, validateRouteOptions } from './route-options.js';
import type { RouteOptions } from './route-options.js';
import { inSource, joinPrefix, parsePattern } from './topic-pattern.js';
import type { ParsedPattern } from './topic-pattern.js';

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
