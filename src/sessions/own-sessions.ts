import type { ResolvedConfig } from '../config/schema.js';
import { mainClientId, workerClientId } from '../consumer/client-ids.js';
import type { RouteTable } from '../router/route-table.js';
import type { WorkerHealth } from '../worker/worker-health.js';
import { planPools } from '../worker/pools.js';
import type { OwnSession } from './session-registry.js';

/**
 * The sessions this process runs now: the main process's, and every slot of every pool (slots `0..desired-1`,
 * restarting ones included, plus a surge slot while it lives). Only the main session when `workers` is undefined
 * (every route on the main connection).
 */
export function ownSessions(
  config: ResolvedConfig,
  table: RouteTable,
  workers: WorkerHealth | undefined,
): OwnSession[] {
  const mainRoutes = workers ? table.routes.filter((r) => !r.shared) : table.routes;
  const sessions: OwnSession[] = [
    {
      clientId: mainClientId(config),
      pool: 'main',
      slot: 0,
      filters: mainRoutes.map((r) => r.mqttTopic),
      state: 'live',
    },
  ];
  if (!workers) return sessions;
  const plans = new Map(planPools(table, config.routemq.concurrency).map((p) => [p.name, p]));
  for (const pool of workers.pools) {
    const filters = (plans.get(pool.name)?.routes ?? []).map((r) => r.mqttTopic);
    const slots = new Set<number>(Array.from({ length: pool.desired }, (_, i) => i));
    for (const w of workers.workers) if (w.pool === pool.name) slots.add(w.slot);
    for (const slot of [...slots].sort((a, b) => a - b)) {
      sessions.push({
        clientId: workerClientId(config, pool.name, slot, filters),
        pool: pool.name,
        slot,
        filters,
        state: slot < pool.desired ? 'live' : 'leaving',
      });
    }
  }
  return sessions;
}
