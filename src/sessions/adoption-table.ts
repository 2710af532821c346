import { createHash } from 'node:crypto';
import { ErrorCodes, RouteMQError } from '../errors.js';
import { RouteTable } from '../router/route-table.js';
import type { RouteDefinition } from '../router/route-table.js';

/**
 * The table an adopted session's messages run through: every route of this deploy, plus a last-resort route on
 * `#` that dead-letters a message no route matches any more (a removed route, a changed filter) with
 * `RMQ_ERR_NO_ROUTE`, so it is never acked unrun. `#` loses to every more specific filter, so it only wins when
 * nothing else matches. When the app has a route on `#` itself, that route takes everything and none is added.
 */
export function adoptionTable(table: RouteTable): RouteTable {
  if (table.routes.some((r) => r.filter === '#')) return table;
  const noRoute = async (): Promise<void> => {
    await Promise.resolve();
    throw new RouteMQError(
      ErrorCodes.NO_ROUTE,
      'An adopted session held this message, and no route of this deploy matches its topic',
    );
  };
  const catchAll: RouteDefinition = Object.freeze({
    id: table.routes.length + 1,
    subscriptionId: 0,
    pattern: '#',
    filter: '#',
    mqttTopic: '#',
    name: 'no-route',
    captureNames: [null],
    handler: noRoute,
    middleware: [],
    run: noRoute,
    qos: 1,
    shared: false,
    workerCount: 1,
    group: undefined,
    pool: undefined,
    schema: undefined,
    maxAttempts: 1,
    retained: 'once',
    source: undefined,
  });
  return new RouteTable([...table.routes, catchAll]);
}

/** A short hash of what the broker sees of a route set (filters, groups, pools): the "deploy" in records. */
export function deployHash(table: RouteTable): string {
  const shape = table.routes.map((r) => `${r.mqttTopic}|${r.pool ?? ''}|${r.workerCount}`).sort();
  return createHash('sha256').update(shape.join('\n')).digest('hex').slice(0, 12);
}
