/**
 * @module
 * Retained messages on persistent sessions: which Retain Handling a subscription asks for, and whether a
 * retained-on-subscribe copy (a PUBLISH with the retain flag set) runs its route. Pure; no I/O.
 *
 * A broker sets the retain flag only on copies it sends because of a SUBSCRIBE (a publish that matches an
 * existing subscription arrives with retain 0, measured on Mosquitto 2.0.11 for v3.1.1 and v5), and on their
 * redeliveries (DUP) when they were not acked. Without care, a persistent session would run a retained message at
 * every start, because RouteMQ subscribes again on every connect (a broker restart drops `$share` subscriptions,
 * see DELIVERY.md), and a shared route would run one copy per worker.
 */
import type { RouteDefinition } from '../router/route-table.js';

/** MQTT 5 Retain Handling: 0 send retained messages at every SUBSCRIBE, 1 only for a new subscription, 2 never. */
export type RetainHandling = 0 | 1 | 2;

/** What the connection a retained copy arrived on knows. */
export interface RetainedCopyContext {
  readonly protocolVersion: 4 | 5;
  /** The CONNACK of that connection said the broker kept the session (and so its subscriptions). */
  readonly sessionPresent: boolean;
  /**
   * That connection's SUBSCRIBE was the first of this process, the one that asks for retained messages again
   * for `'every-start'` routes.
   */
  readonly startConnection: boolean;
}

/**
 * The Retain Handling a route subscribes with: 2 for a shared route (MQTT 5 §4.8.2: no retained messages on
 * shared subscriptions; Mosquitto 2.0.11 sends them unless asked not to), 0 for an `'every-start'` route on the
 * first subscribe of the process, else 1 (only when the subscription is new, i.e. the session did not have it).
 * MQTT 3.1.1 has no Retain Handling; {@link runsRetainedCopy} does the same on the receiving side.
 */
export function retainHandlingFor(
  route: Pick<RouteDefinition, 'shared' | 'retained'>,
  startSubscribe: boolean,
): RetainHandling {
  if (route.shared) return 2;
  return route.retained === 'every-start' && startSubscribe ? 0 : 1;
}

/**
 * Does `route` run this retained copy? Otherwise it is acked without running.
 *
 * - A shared route never does (MQTT 5 §4.8.2).
 * - On MQTT 5 the broker already applied {@link retainHandlingFor}: every copy it sends is meant to run.
 * - A DUP copy is a redelivery of one that was never acked, so perhaps never handled: it runs (at least once).
 * - On MQTT 3.1.1 the broker sends the retained messages again at every SUBSCRIBE. A copy on a connection whose
 *   session was kept was seen by that session before, so it runs only for an `'every-start'` route on the first
 *   connection of the process. With a new session (sessionPresent false) every copy runs.
 */
export function runsRetainedCopy(
  route: Pick<RouteDefinition, 'shared' | 'retained'>,
  dup: boolean,
  context: RetainedCopyContext,
): boolean {
  if (route.shared) return false;
  if (context.protocolVersion === 5 || dup || !context.sessionPresent) return true;
  return route.retained === 'every-start' && context.startConnection;
}
