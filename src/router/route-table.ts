import type { StandardSchemaV1 } from '@standard-schema/spec';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Handler, MessageContext, Middleware, QoS } from '../types.js';
import { compose } from './compose.js';
import type { RetainedMode } from './route-options.js';
import type { RouteDeclaration, RouteDeclarationSource } from './router.js';
import { subscriptionIdFor } from './subscription-id.js';
import { inSource, isValidGroupName } from './topic-pattern.js';
import { TopicTrie } from './topic-trie.js';

/** A compiled route. Frozen. */
export interface RouteDefinition {
  /** 1-based registration order across all route files. */
  readonly id: number;
  /**
   * The MQTT v5 subscription identifier this route's subscription is tagged with. Derived from `mqttTopic`, so it
   * stays the same across deploys (see {@link subscriptionIdFor}).
   */
  readonly subscriptionId: number;
  /** The normalised pattern with the group prefix applied, e.g. `sensors/{id}/telemetry`. */
  readonly pattern: string;
  /** The MQTT filter, e.g. `sensors/+/telemetry`. */
  readonly filter: string;
  /** What to subscribe to: `$share/<group>/<filter>` when shared, else the filter. */
  readonly mqttTopic: string;
  /** Topic-safe name: `{id}` kept, `+` → `*`, `#` → `**`; or the `name` option. */
  readonly name: string;
  /** One per wildcard level, in order: the param name for `{x}`, `null` for `+` and `#`. */
  readonly captureNames: readonly (string | null)[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- routes of every param and payload type share one table
  readonly handler: Handler<any, any>;
  /** Group middleware (outer first), then route middleware. */
  readonly middleware: readonly Middleware[];
  /** `compose(middleware, handler)`, composed once at compile time. */
  readonly run: (ctx: MessageContext) => Promise<void>;
  readonly qos: QoS;
  readonly shared: boolean;
  readonly workerCount: number;
  /** The share group (default applied) when shared, else `undefined`. */
  readonly group: string | undefined;
  readonly pool: string | undefined;
  readonly schema: StandardSchemaV1 | undefined;
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
  readonly deadLetterTopic?: string;
  readonly concurrency?: number;
  /** What the route does with retained-on-subscribe copies (see `RouteOptions.retained`). */
  readonly retained: RetainedMode;
  /** The route file that declared the route, when known. */
  readonly source: string | undefined;
}

/** The result of {@link RouteTable.match}. */
export interface RouteMatch {
  /** The winning (most specific) filter. */
  readonly filter: string;
  /** Every route on that filter (e.g. the same filter in different share groups), in registration order. */
  readonly routes: readonly RouteDefinition[];
  /** The value of each wildcard level, in order; for `#`, the rest of the topic (`''` for zero levels). */
  readonly captures: readonly string[];
}

/** What {@link RouteTable.bindCaptures} returns: the `ctx.params` and `ctx.wildcards` of one route. */
export interface BoundCaptures {
  readonly params: Record<string, string>;
  readonly wildcards: string[];
}

/** One shared route, as {@link RouteTable.getSharedRoutesInfo} lists it. */
export interface SharedRouteInfo {
  /** The route pattern. */
  readonly topic: string;
  readonly mqttTopic: string;
  readonly group: string;
  readonly qos: QoS;
  readonly workerCount: number;
}

/** Options of {@link compileRoutes}. */
export interface CompileOptions {
  /** Share group of shared routes without a `group` option, `^[A-Za-z0-9_-]{1,64}$`. */
  readonly defaultGroup: string;
}

/**
 * Split captures into named params and anonymous wildcards, following `route.captureNames`. O(levels).
 */
export function bindCaptures(route: Pick<RouteDefinition, 'captureNames'>, captures: readonly string[]): BoundCaptures {
  const params: Record<string, string> = {};
  const wildcards: string[] = [];
  const names = route.captureNames;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const value = captures[i] ?? '';
    if (typeof name === 'string') params[name] = value;
    else wildcards.push(value);
  }
  return { params, wildcards };
}

/**
 * The compiled routes and their matching trie. Build it with {@link compileRoutes}.
 */
export class RouteTable {
  /** Every route, in registration order (`routes[i].id === i + 1`). */
  readonly routes: readonly RouteDefinition[];
  #trie = new TopicTrie<RouteDefinition>();
  #shared: readonly SharedRouteInfo[];
  #noMatchCount = 0;

  /** Index `routes` into a trie. Routes are assumed valid and free of duplicates (see {@link compileRoutes}). */
  constructor(routes: readonly RouteDefinition[]) {
    this.routes = Object.freeze([...routes]);
    for (const route of this.routes) this.#trie.insert(route.filter, route);
    this.#shared = Object.freeze(
      this.routes.flatMap((route) =>
        route.shared && route.group !== undefined
          ? [
              Object.freeze({
                topic: route.pattern,
                mqttTopic: route.mqttTopic,
                group: route.group,
                qos: route.qos,
                workerCount: route.workerCount,
              }),
            ]
          : [],
      ),
    );
  }

  /** How many topics {@link match} found no route for. */
  get noMatchCount(): number {
    return this.#noMatchCount;
  }

  /**
   * Find the routes for a concrete topic: the most specific filter wins (literal, then `+`/`{x}`, then `#`, per
   * level). O(levels). Never throws.
   *
   * @returns the match, or `undefined` (and {@link noMatchCount} goes up) when no route matches.
   */
  match(topic: string): RouteMatch | undefined {
    const found = this.#trie.match(topic);
    if (found === undefined) {
      this.#noMatchCount++;
      return undefined;
    }
    return { filter: found.filter, routes: found.values, captures: found.captures };
  }

  /** The route with this id (= MQTT v5 subscription identifier), if any. */
  getById(id: number): RouteDefinition | undefined {
    return this.routes[id - 1];
  }

  /** Split a match's captures into the `params` and `wildcards` of one of its routes. See {@link bindCaptures}. */
  bindCaptures(route: RouteDefinition, captures: readonly string[]): BoundCaptures {
    return bindCaptures(route, captures);
  }

  /** The shared routes, in registration order, for spawning and sizing worker pools. */
  getSharedRoutesInfo(): readonly SharedRouteInfo[] {
    return this.#shared;
  }
}

/**
 * Compile a router's declarations into a {@link RouteTable}: assign ids, apply defaults, compose middleware once,
 * check for duplicates, and build the trie.
 *
 * @throws RouteMQError `RMQ_ERR_GROUP_INVALID` when `defaultGroup` is not a valid group name.
 * @throws RouteMQError `RMQ_ERR_ROUTE_DUPLICATE` when two routes have the same filter and the same share group
 *   (or are both non-shared); the message names both patterns and both files.
 */
export function compileRoutes(router: RouteDeclarationSource, options: CompileOptions): RouteTable {
  const { defaultGroup } = options;
  if (!isValidGroupName(defaultGroup)) {
    throw new RouteMQError(
      ErrorCodes.GROUP_INVALID,
      `Invalid default share group ${JSON.stringify(defaultGroup) ?? String(defaultGroup)}: ` +
        'a group name must match ^[A-Za-z0-9_-]{1,64}$',
    );
  }
  const seen = new Map<string, RouteDefinition>();
  const subscriptionIds = new Set<number>();
  const routes = router.declarations.map((declaration, index) => {
    const route = defineRoute(declaration, index + 1, defaultGroup, subscriptionIds);
    const key = `${route.shared ? `shared:${route.group}` : 'direct'}\u0000${route.filter}`;
    const previous = seen.get(key);
    if (previous !== undefined) throw duplicateError(previous, route);
    seen.set(key, route);
    subscriptionIds.add(route.subscriptionId);
    return route;
  });
  return new RouteTable(routes);
}

function defineRoute(
  declaration: RouteDeclaration,
  id: number,
  defaultGroup: string,
  takenSubscriptionIds: ReadonlySet<number>,
): RouteDefinition {
  const { parsed, options } = declaration;
  const shared = options.shared === true;
  const group = shared ? (options.group ?? defaultGroup) : undefined;
  const middleware = Object.freeze([...declaration.middleware]);
  const mqttTopic = shared ? `$share/${group}/${parsed.filter}` : parsed.filter;
  return Object.freeze({
    id,
    subscriptionId: subscriptionIdFor(mqttTopic, takenSubscriptionIds),
    pattern: declaration.pattern,
    filter: parsed.filter,
    mqttTopic,
    name: options.name ?? parsed.name,
    captureNames: parsed.captureNames,
    handler: declaration.handler,
    middleware,
    run: compose(middleware, declaration.handler),
    qos: options.qos ?? 1,
    shared,
    workerCount: options.workerCount ?? 1,
    group,
    pool: options.pool,
    schema: options.schema,
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.deadLetterTopic !== undefined && { deadLetterTopic: options.deadLetterTopic }),
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    retained: options.retained ?? 'once',
    source: declaration.source,
  });
}

function duplicateError(first: RouteDefinition, second: RouteDefinition): RouteMQError {
  const scope = second.shared ? ` in share group '${second.group}'` : ' (both not shared)';
  return new RouteMQError(
    ErrorCodes.ROUTE_DUPLICATE,
    `Duplicate route: '${first.pattern}'${inSource(first.source)} and '${second.pattern}'${inSource(second.source)} ` +
      `both subscribe to '${second.filter}'${scope}. Remove one, or give one a different share group.`,
  );
}
