/**
 * @module
 * What a reload cannot apply. A reload swaps route code, and the main process's filters; it does not re-plan the
 * worker pools (their client ids, and so their sessions, come from the plan), nor resize a running dispatcher.
 * Pure; no I/O.
 */
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { RouteDefinition, RouteTable } from '../router/route-table.js';
import { planPools } from '../worker/pools.js';
import type { PoolPlan } from '../worker/pools.js';

/** The parts of a pool a reload must find unchanged. */
function describePool(plan: PoolPlan): string {
  const topics = plan.routes.map((r) => r.mqttTopic).sort();
  return `${topics.join(', ')} (workerCount ${plan.size}, concurrency ${plan.concurrency})`;
}

/** Handlers in flight at most on the main connection, as the Consumer derives it. */
function mainConcurrency(routes: readonly RouteDefinition[], defaultConcurrency: number): number {
  return Math.min(defaultConcurrency, ...routes.map((r) => r.concurrency ?? defaultConcurrency));
}

/**
 * Every change from `before` to `after` that needs a restart, one sentence each; empty when a reload can apply
 * `after`. With `pooled`, shared routes run in worker pools: a pool added, removed or renamed, a shared filter or
 * share group changed, or a pool's `workerCount` or `concurrency` changed needs a restart. Always: a change of the
 * main connection's handler concurrency.
 */
export function changesNeedingRestart(
  before: RouteTable,
  after: RouteTable,
  options: { readonly pooled: boolean; readonly defaultConcurrency: number },
): string[] {
  const changes: string[] = [];
  const main = (table: RouteTable): readonly RouteDefinition[] =>
    options.pooled ? table.routes.filter((r) => !r.shared) : table.routes;
  const concurrencyBefore = mainConcurrency(main(before), options.defaultConcurrency);
  const concurrencyAfter = mainConcurrency(main(after), options.defaultConcurrency);
  if (concurrencyBefore !== concurrencyAfter) {
    changes.push(`the main process's handler concurrency changes from ${concurrencyBefore} to ${concurrencyAfter}`);
  }
  if (!options.pooled) return changes;
  const pools = (table: RouteTable): Map<string, string> =>
    new Map(planPools(table, options.defaultConcurrency).map((p) => [p.name, describePool(p)]));
  const was = pools(before);
  const now = pools(after);
  for (const [name, layout] of now) {
    const old = was.get(name);
    if (old === undefined) changes.push(`pool '${name}' is new: ${layout}`);
    else if (old !== layout) changes.push(`pool '${name}' changes from ${old} to ${layout}`);
  }
  for (const [name, layout] of was) {
    if (!now.has(name)) changes.push(`pool '${name}' is gone (was ${layout})`);
  }
  return changes;
}

/**
 * Throw when a reload cannot apply `after` (see {@link changesNeedingRestart}).
 *
 * @throws RouteMQError `RMQ_ERR_RELOAD_NEEDS_RESTART` naming every such change.
 */
export function assertReloadable(
  before: RouteTable,
  after: RouteTable,
  options: { readonly pooled: boolean; readonly defaultConcurrency: number },
): void {
  const changes = changesNeedingRestart(before, after, options);
  if (changes.length === 0) return;
  throw new RouteMQError(
    ErrorCodes.RELOAD_NEEDS_RESTART,
    `Not reloaded: the route files change what a reload cannot apply (${changes.join('; ')}). ` +
      'The running code stays; restart to apply it',
  );
}
