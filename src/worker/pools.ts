import type { ResolvedConfig } from '../config/schema.js';
import { MAX_TIMER_MS } from '../config/fields.js';
import type { RouteDefinition, RouteTable } from '../router/route-table.js';

/** One worker pool as planned from the route table. */
export interface PoolPlan {
  /** `^[A-Za-z0-9_-]{1,64}$`: part of every slot's client id. */
  readonly name: string;
  /** The shared routes this pool serves. */
  readonly routes: readonly RouteDefinition[];
  /** Worker processes: the largest `workerCount` of its routes. */
  readonly size: number;
  /** Handlers in flight per worker: the smallest `concurrency` of its routes, else the default. */
  readonly concurrency: number;
}

const MAX_POOL_NAME = 40;

/**
 * Plan the worker pools: each shared route gets its own pool, named after its filter, unless routes name a common
 * `pool`, which is then sized by their largest `workerCount`. Non-shared routes get no pool (they run in the main
 * process). Pure and deterministic, so the parent and every worker derive the same plan from the same files.
 */
export function planPools(table: RouteTable, defaultConcurrency: number): PoolPlan[] {
  const shared = table.routes.filter((r) => r.shared);
  // Explicit pool names first, so a generated name never captures a pool a later route names.
  const taken = new Set(shared.flatMap((r) => (r.pool === undefined ? [] : [r.pool])));
  const byName = new Map<string, RouteDefinition[]>();
  for (const route of shared) {
    let name = route.pool;
    if (name === undefined) {
      name = poolNameFor(route);
      for (let i = 2; taken.has(name); i++) name = `${poolNameFor(route)}-${i}`;
      taken.add(name);
    }
    const routes = byName.get(name) ?? [];
    routes.push(route);
    byName.set(name, routes);
  }
  return [...byName].map(([name, routes]) => ({
    name,
    routes,
    size: Math.max(...routes.map((r) => r.workerCount)),
    concurrency: Math.min(...routes.map((r) => r.concurrency ?? defaultConcurrency)),
  }));
}

/**
 * A pool name from what the broker sees, the subscription filter: `sensors/{id}/telemetry` and
 * `sensors/{sensorId}/telemetry` both subscribe to `sensors/+/telemetry`, so both are `sensors-any-telemetry`.
 * Renaming a param keeps the pool, its client ids and so its sessions; changing the filter makes a new pool (the
 * old one's sessions are then adopted, see docs/sessions.md).
 */
export function poolNameFor(route: Pick<RouteDefinition, 'filter'>): string {
  const name = route.filter
    .split('/')
    .map((level) => (level === '#' ? 'all' : level === '+' ? 'any' : level))
    .join('/')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_POOL_NAME);
  return name.length > 0 ? name : 'pool';
}

/**
 * How long a slot that leaves for good may take to settle what it holds: every try of a message is bounded by its
 * route's timeout, and after the last one the message is dead-lettered, so each in-flight message settles within
 * maxAttempts × (timeout + retry delay). Its session may only end once all are acked (see Consumer.stop).
 * Capped at the longest delay a timer can take.
 */
export function leaveDrainMs(
  routes: readonly { readonly timeoutMs?: number; readonly maxAttempts?: number }[],
  r: Pick<ResolvedConfig['routemq'], 'maxAttempts' | 'handlerTimeoutMs' | 'retryMaxMs' | 'shutdownTimeoutMs'>,
): number {
  const perMessage = Math.max(
    0,
    ...routes.map(
      (route) => (route.maxAttempts ?? r.maxAttempts) * ((route.timeoutMs ?? r.handlerTimeoutMs) + r.retryMaxMs),
    ),
  );
  return Math.min(MAX_TIMER_MS, r.shutdownTimeoutMs + perMessage);
}
