import { retainHandlingFor } from '../message/retained.js';
import type { RouteDefinition } from '../router/route-table.js';

/**
 * The SUBSCRIBE entry of a route; `atStart`: the first subscribe of the process (see {@link retainHandlingFor});
 * `tagged`: with the route's v5 subscription identifier.
 */
export function subscriptionOf(
  r: RouteDefinition,
  atStart: boolean,
  tagged: boolean,
): { topic: string; qos: RouteDefinition['qos']; subscriptionId?: number; retainHandling: 0 | 1 | 2 } {
  return {
    topic: r.mqttTopic,
    qos: r.qos,
    ...(tagged ? { subscriptionId: r.subscriptionId } : {}),
    retainHandling: retainHandlingFor(r, atStart),
  };
}
