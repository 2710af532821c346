/**
 * @module
 * `routemq/internal`: building blocks the benchmarks and RouteMQ's own tools use. No stability promise: these
 * names may change in any release. Applications should use the main entry point.
 */
export { compileRoutes, RouteTable } from './router/route-table.js';
export type { RouteDefinition, RouteMatch } from './router/route-table.js';
export { compose } from './router/compose.js';
export { loadRouteFiles } from './router/discovery.js';
export { Consumer } from './consumer/consumer.js';
export type { ConsumerOptions } from './consumer/consumer.js';
