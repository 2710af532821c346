import type { RedisManager } from '../redis/redis-manager.js';
import type { PoolLoad } from '../worker/pool-load.js';
import type { ScalingState } from './policy.js';
import { ErrorCodes, RouteMQError } from '../errors.js';

/** What one host reports for one pool. */
export interface HostLoad {
  readonly instance: string;
  /** The pool's size on that host. */
  readonly current: number;
  readonly load: PoolLoad;
}

/** External signals under the app's prefix, as RouteMQ (Python) reads them: `metrics:queue_depth[:<pool>]`. */
export interface ExternalSignals {
  readonly queueDepth: number | undefined;
  readonly processingRate: number | undefined;
}

/** A decision as the leader wrote it. */
export interface DesiredCounts {
  /** The leader's fencing token. */
  readonly token: number;
  /** The pool's total size, and each host's share of it. */
  readonly total: number;
  readonly shares: Readonly<Record<string, number>>;
  readonly reason: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly at: number;
  /** When the leader last wrote it (every round). */
  readonly writtenAt: number;
  /** The policy's memory (cooldowns, stabilisation window), so a new leader carries on from it. */
  readonly state: ScalingState | undefined;
}

/** Replace the desired counts, only if the writer still holds the lease (the fence). */
const WRITE_DESIRED = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`;

/**
 * The autoscaler's keys in Redis, all under the app's prefix:
 * - `scaling:load:<pool>:<instance>`: one host's load for a pool (JSON, expires after 3 intervals);
 * - `scaling:hosts:<pool>`: the hosts that reported, scored by when (stale ones are pruned on read);
 * - `scaling:desired:<pool>`: the leader's decision (JSON: total, per-host shares, reason, inputs, token), renewed
 *   every round and expiring when no leader renews it;
 * - `metrics:queue_depth[:<pool>]` and `metrics:processing_rate[:<pool>]`: written by an external producer.
 */
export class ScalingStore {
  readonly #redis: RedisManager;
  readonly #ttlMs: number;

  /** `ttlMs`: how long a host's report counts. */
  constructor(redis: RedisManager, ttlMs: number) {
    this.#redis = redis;
    this.#ttlMs = ttlMs;
  }

  #client(): NonNullable<RedisManager['client']> {
    const client = this.#redis.readyClient();
    if (!client) throw new RouteMQError(ErrorCodes.REDIS_UNAVAILABLE, 'Redis is not connected');
    return client;
  }

  async publishLoad(pool: string, report: HostLoad): Promise<void> {
    const now = Date.now();
    await this.#client()
      .multi()
      .set(this.#redis.key('scaling', 'load', pool, report.instance), JSON.stringify(report), 'PX', this.#ttlMs)
      .zadd(this.#redis.key('scaling', 'hosts', pool), now, report.instance)
      // Hosts that stopped reporting leave the list (their load keys have expired already).
      .zremrangebyscore(this.#redis.key('scaling', 'hosts', pool), '-inf', now - this.#ttlMs)
      .pexpire(this.#redis.key('scaling', 'hosts', pool), this.#ttlMs * 10)
      .exec();
  }

  /** Every host's live report for a pool, sorted by instance id. */
  async readLoads(pool: string): Promise<HostLoad[]> {
    const client = this.#client();
    const hostsKey = this.#redis.key('scaling', 'hosts', pool);
    const instances = (await client.zrange(hostsKey, 0, -1)).sort();
    if (instances.length === 0) return [];
    const values = await client.mget(instances.map((i) => this.#redis.key('scaling', 'load', pool, i)));
    return values.flatMap((v) => (v === null ? [] : [JSON.parse(v) as HostLoad]));
  }

  /** The external backlog and rate for a pool (the pool's own keys win over the app-wide ones). */
  async readExternal(pool: string): Promise<ExternalSignals> {
    const k = (name: string, ...rest: string[]): string => this.#redis.key('metrics', name, ...rest);
    const [depthPool, depth, ratePool, rate] = await this.#client().mget(
      k('queue_depth', pool),
      k('queue_depth'),
      k('processing_rate', pool),
      k('processing_rate'),
    );
    return { queueDepth: number(depthPool ?? depth), processingRate: number(ratePool ?? rate) };
  }

  /**
   * Write a decision, fenced by the lease, expiring after `ttlMs` (a decision nobody renews goes stale). Resolves
   * false when the lease is no longer this writer's.
   */
  async writeDesired(
    pool: string,
    leaseKey: string,
    leaseValue: string,
    desired: DesiredCounts,
    ttlMs: number,
  ): Promise<boolean> {
    const key = this.#redis.key('scaling', 'desired', pool);
    const value = JSON.stringify(desired);
    const written = await this.#client().eval(WRITE_DESIRED, 2, leaseKey, key, leaseValue, value, String(ttlMs));
    return written === 1;
  }

  async readDesired(pool: string): Promise<DesiredCounts | undefined> {
    const value = await this.#client().get(this.#redis.key('scaling', 'desired', pool));
    return value === null ? undefined : (JSON.parse(value) as DesiredCounts);
  }
}

function number(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Split a pool's total over hosts (sorted ids): as even as can be, the first ones get the remainder, each ≥ 1. */
export function splitShares(total: number, instances: readonly string[]): Record<string, number> {
  const shares: Record<string, number> = {};
  const n = instances.length;
  instances.forEach((instance, i) => {
    shares[instance] = Math.max(1, Math.floor(total / n) + (i < total % n ? 1 : 0));
  });
  return shares;
}
