import type { IPublishPacket } from 'mqtt';
import type { Logger } from '../logger.js';
import type { RouteDefinition, RouteTable } from '../router/route-table.js';

/** Options of {@link CopySelection}: those of the dispatcher it serves (see `DispatcherOptions`). */
export interface CopySelectionOptions {
  readonly table: RouteTable;
  /** Which routes this process runs. @defaultValue all */
  readonly serves?: ((route: RouteDefinition) => boolean) | undefined;
  /** Whether `route` runs a retained-on-subscribe copy. @defaultValue non-shared routes do, shared ones never */
  readonly runsRetained?: ((route: RouteDefinition, packet: IPublishPacket, epoch: number) => boolean) | undefined;
  readonly logger: Logger;
}

/**
 * Which of the routes on a copy's winning filter run here, on this copy: the ones this process serves and, on MQTT
 * v5, the ones whose subscription identifier the copy carries; for a retained-on-subscribe copy, only those that run
 * retained copies. Every other copy is acked without running anything.
 *
 * On MQTT v5 one publish can reach a connection once per overlapping subscription, each copy tagged with its
 * subscription identifier (`route.subscriptionId`). State: one flag per route id of the current table (does this
 * process serve it), and the table's identifiers, built when first needed; both are dropped when the table is
 * replaced.
 */
export class CopySelection {
  /** `serves(route)` by route id, asked once per route (cleared when the table is replaced). */
  #serves: boolean[] = [];
  #table: RouteTable;
  /** The subscription identifiers of `#table`'s routes, built when first needed. */
  #knownIds: Set<number> | undefined;
  #runStaleCopies = false;
  #servesRoute: ((route: RouteDefinition) => boolean) | undefined;
  readonly #runsRetained: CopySelectionOptions['runsRetained'];
  readonly #logger: Logger;

  constructor(options: CopySelectionOptions) {
    this.#table = options.table;
    this.#servesRoute = options.serves;
    this.#runsRetained = options.runsRetained;
    this.#logger = options.logger;
  }

  /**
   * While a reload's new subscriptions are on their way (true), a v5 copy tagged only with subscription identifiers
   * that the table does not have runs by its topic instead of being acked unrun. @defaultValue false
   */
  set runStaleCopies(value: boolean) {
    this.#runStaleCopies = value;
  }

  /** Select from `table`'s routes from now on, running those `serves` accepts (a reload). */
  replaceTable(table: RouteTable, serves: ((route: RouteDefinition) => boolean) | undefined): void {
    this.#table = table;
    this.#servesRoute = serves;
    this.#serves = [];
    this.#knownIds = undefined;
  }

  /**
   * The routes on the winning filter that run here, on this copy: the ones this process serves and, on MQTT v5,
   * the ones whose subscription identifier the copy carries. `undefined` when none (the copy is acked unrun).
   */
  routesHere(packet: IPublishPacket, routes: readonly RouteDefinition[]): readonly RouteDefinition[] | undefined {
    const ids = packet.properties?.subscriptionIdentifier;
    if (this.#servesRoute === undefined && ids === undefined) return routes.length > 0 ? routes : undefined;
    const here = this.#routesFor(routes, ids);
    // While a reload's new subscriptions are not yet acked, a copy tagged only with identifiers the new table does
    // not have (a changed filter's old subscription) is the only copy: run it by topic. Otherwise such a copy is a
    // stale subscription's, and the current ones deliver their own (running it would run the message twice).
    if (here === undefined && ids !== undefined && this.#runStaleCopies && this.#unknownIds(ids)) {
      return this.#routesFor(routes, undefined);
    }
    return here;
  }

  #routesFor(
    routes: readonly RouteDefinition[],
    ids: number | number[] | undefined,
  ): readonly RouteDefinition[] | undefined {
    // One route on the winning filter is the common case: no array to allocate.
    if (routes.length === 1) return this.#runsHere(routes[0] as RouteDefinition, ids) ? routes : undefined;
    const here: RouteDefinition[] = [];
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i] as RouteDefinition;
      if (this.#runsHere(route, ids)) here.push(route);
    }
    return here.length > 0 ? here : undefined;
  }

  /** None of `ids` is the subscription identifier of a route of the current table. */
  #unknownIds(ids: number | number[]): boolean {
    const known = (this.#knownIds ??= new Set(this.#table.routes.map((r) => r.subscriptionId)));
    return typeof ids === 'number' ? !known.has(ids) : ids.every((id) => !known.has(id));
  }

  /**
   * {@link routesHere}, less those that do not run this retained copy (received on connection `epoch`); `undefined`
   * when none (it is acked unrun).
   */
  retainedRoutesHere(
    packet: IPublishPacket,
    epoch: number,
    matched: readonly RouteDefinition[],
  ): readonly RouteDefinition[] | undefined {
    const routes = this.routesHere(packet, matched);
    if (!routes) return undefined;
    const runs = this.#runsRetained ?? ((route: RouteDefinition) => !route.shared);
    const here = routes.filter((route) => runs(route, packet, epoch));
    if (here.length === 0) {
      this.#logger.debug(
        { topic: packet.topic, dup: packet.dup, routes: routes.map((r) => r.pattern) },
        'retained copy acked without running (a shared route, or a session that already had it)',
      );
      return undefined;
    }
    return here.length === routes.length ? routes : here;
  }

  #runsHere(route: RouteDefinition, ids: number | number[] | undefined): boolean {
    return (
      (this.#serves[route.id] ??= this.#servesRoute?.(route) ?? true) &&
      (ids === undefined ||
        (typeof ids === 'number' ? ids === route.subscriptionId : ids.includes(route.subscriptionId)))
    );
  }
}
