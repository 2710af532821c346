import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { RedisManager } from '../redis/redis-manager.js';
import type { AppEvents } from '../runtime/app-events.js';
import type { PoolHealth } from '../worker/worker-health.js';
import type { WorkerManager } from '../worker/worker-manager.js';
import { LeaderLease } from './leader-lease.js';
import { decideScale } from './policy.js';
import type { ScalingPolicyConfig, ScalingState } from './policy.js';
import { combinePoolLoads } from '../worker/pool-load.js';
import type { PoolLoad } from '../worker/pool-load.js';
import { ScalingStore, splitShares } from './scaling-store.js';
import type { DesiredCounts, ExternalSignals } from './scaling-store.js';

/** One pool in {@link ScalingView}: the signal external autoscalers (KEDA's metrics-api) can read. */
export interface PoolScalingView {
  /** Workers of this pool on this host. */
  readonly current: number;
  /** Workers of this pool over every host that reports (this host alone without Redis). */
  readonly clusterCurrent: number;
  /** The pool's total size as last decided (or `clusterCurrent`, when nothing decides). */
  readonly desired: number;
  /** This host's share of `desired`. */
  readonly desiredHere: number;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** The pool's load, over every host that reports. */
  readonly load: PoolLoad;
  readonly queueDepth: number | undefined;
  readonly processingRate: number | undefined;
  /** Why the last decision was taken, and when. */
  readonly reason: string | undefined;
  readonly decidedAt: number | undefined;
}

/** `GET /scaling`. */
export interface ScalingView {
  readonly instance: string;
  readonly autoScale: boolean;
  /** This host holds the autoscaler lease. */
  readonly leader: boolean;
  readonly pools: Readonly<Record<string, PoolScalingView>>;
}

/** Options of {@link Autoscaler}. */
export interface AutoscalerOptions {
  readonly config: ResolvedConfig;
  /** The app's workers, once started. */
  readonly workers: () => WorkerManager | undefined;
  readonly redis: RedisManager;
  readonly events: AppEvents;
  readonly logger: Logger;
}

interface Cluster {
  /** The hosts that report this pool, sorted. */
  readonly hosts: readonly string[];
  readonly current: number;
  readonly load: PoolLoad;
  readonly external: ExternalSignals;
  readonly desired: DesiredCounts | undefined;
}

/**
 * Resizes the worker pools from their load, the seed's DynamicWorkerManager done properly. Every interval, each
 * host publishes each pool's load to Redis ({@link ScalingStore}); the holder of the {@link LeaderLease} reads
 * every host's load and the external `metrics:queue_depth`, runs the pure policy ({@link decideScale}) on the
 * pool's total, splits the total over the live hosts and writes it, fenced by the lease. Every host then applies
 * its own share through `WorkerManager.scaleTo`, so a scale-down drains and ends the removed slots' sessions.
 *
 * Fails safe: while Redis is down, or with no leader, nothing is decided and the pools keep their size. Without
 * `WORKER_AUTO_SCALE` it only publishes and shows the signals ({@link view}).
 */
export class Autoscaler {
  readonly #o: AutoscalerOptions;
  readonly #log: Logger;
  readonly #store: ScalingStore | undefined;
  readonly #lease: LeaderLease | undefined;
  readonly #policy: ScalingPolicyConfig;
  readonly #clusters = new Map<string, Cluster>();
  /** Pools being resized now (a resize can outlast several rounds: start-up, drains). */
  readonly #resizing = new Set<string>();
  /** Decisions written before this (a previous run's) are not applied. */
  #startedAt = 0;
  #lastWarnAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;

  constructor(options: AutoscalerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'autoscaler' });
    const s = options.config.scaling;
    this.#policy = {
      minWorkers: s.minWorkers,
      maxWorkers: s.maxWorkers,
      targetBusy: s.targetBusy,
      tolerance: 0.1,
      queueDepthPerWorker: s.queueDepthPerWorker,
      scaleUpCooldownMs: s.scaleUpCooldownMs,
      scaleDownCooldownMs: s.scaleDownCooldownMs,
      scaleDownStabilizationMs: s.scaleDownStabilizationMs,
    };
    if (options.redis.state === 'disabled') return;
    this.#store = new ScalingStore(options.redis, 3 * s.intervalMs);
    if (!s.autoScale) return;
    this.#lease = new LeaderLease({
      redis: options.redis,
      holder: options.config.routemq.instanceId,
      leaseMs: s.leaseMs,
      logger: this.#log,
    });
    this.#lease.on('acquired', (token) => options.events.publish('scaling.leader', { leader: true, token }));
    this.#lease.on('lost', (reason) => options.events.publish('scaling.leader', { leader: false, reason }));
  }

  /** This host holds the lease now. */
  get isLeader(): boolean {
    return this.#lease?.isLeader ?? false;
  }

  start(): void {
    if (!this.#store || this.#timer) return;
    this.#startedAt = Date.now();
    this.#lease?.start();
    this.#timer = setInterval(() => void this.tick(), this.#o.config.scaling.intervalMs);
  }

  /** One round: publish, decide (leader), apply. Rounds never overlap; never rejects. */
  tick(): Promise<void> {
    this.#tick ??= this.#round().finally(() => (this.#tick = undefined));
    return this.#tick;
  }

  async #round(): Promise<void> {
    const workers = this.#o.workers();
    if (!this.#store || !workers || workers.state !== 'running') return;
    if (!this.#o.redis.available) {
      // Serve this host's own signals meanwhile, not the cluster's as they were before the outage.
      this.#clusters.clear();
      return;
    }
    const instance = this.#o.config.routemq.instanceId;
    for (const pool of workers.getWorkerHealth().pools) {
      try {
        await this.#store.publishLoad(pool.name, { instance, current: pool.desired, load: pool.load });
        const cluster = await this.#readCluster(pool);
        this.#clusters.set(pool.name, cluster);
        const decided = this.#lease?.isLeader ? await this.#decide(pool.name, cluster) : undefined;
        if (this.#lease && !this.#resizing.has(pool.name)) this.#apply(workers, pool, decided ?? cluster.desired);
      } catch (err) {
        this.#warn(err, pool.name, 'autoscaler round failed; trying again next interval');
      }
    }
  }

  /** Warn at most once a minute (a Redis ACL without EVAL, say, must not go unnoticed, nor flood the log). */
  #warn(err: unknown, pool: string, message: string): void {
    const now = Date.now();
    if (now - this.#lastWarnAt < 60_000) return this.#log.debug({ err, pool }, message);
    this.#lastWarnAt = now;
    this.#log.warn({ err, pool }, message);
  }

  async #readCluster(pool: PoolHealth): Promise<Cluster> {
    const store = this.#store as ScalingStore;
    const [hosts, external, desired] = await Promise.all([
      store.readLoads(pool.name),
      store.readExternal(pool.name),
      store.readDesired(pool.name),
    ]);
    return {
      hosts: hosts.map((h) => h.instance),
      current: hosts.reduce((n, h) => n + h.current, 0),
      load: combinePoolLoads(hosts.map((h) => h.load)),
      external,
      desired,
    };
  }

  /** Decide a pool's size as leader and write it; resolves with what was written. */
  async #decide(pool: string, cluster: Cluster): Promise<DesiredCounts | undefined> {
    const lease = this.#lease as LeaderLease;
    const token = lease.token;
    if (token === undefined) return undefined;
    const hosts = cluster.hosts;
    if (hosts.length === 0) return undefined;
    const now = Date.now();
    // Like the HPA, scale from the size last asked for (the "spec"), not from the workers that are up yet.
    const current = cluster.desired?.total ?? cluster.current;
    const state: ScalingState = {
      lastScaleUpAt: undefined,
      lastScaleDownAt: undefined,
      recommendations: [],
      ...cluster.desired?.state,
      current,
    };
    const signals = { busyRatio: cluster.load.busyRatio, queueDepth: cluster.external.queueDepth };
    // Every live host keeps at least one worker of each pool.
    const bounds = {
      ...this.#policy,
      minWorkers: Math.max(this.#policy.minWorkers, hosts.length),
      maxWorkers: Math.max(this.#policy.maxWorkers, hosts.length),
    };
    const decision = decideScale(state, signals, bounds, now);
    const inputs = {
      current,
      busyRatio: cluster.load.busyRatio,
      targetBusy: this.#policy.targetBusy,
      queueDepth: cluster.external.queueDepth,
      processingRate: cluster.external.processingRate,
      messagesPerSecond: cluster.load.messagesPerSecond,
      p95Ms: cluster.load.p95Ms,
      inFlight: cluster.load.inFlight,
      hosts: hosts.length,
    };
    const shares = splitShares(decision.desired, hosts);
    const resized = decision.desired !== current;
    // A host joined or left: same total, split anew.
    const moved = !resized && JSON.stringify(shares) !== JSON.stringify(cluster.desired?.shares ?? {});
    const reason = resized ? decision.reason : moved ? `${hosts.length} host(s) share ${decision.desired}` : undefined;
    const previous = cluster.desired;
    const desired: DesiredCounts = {
      token,
      // Each live host keeps one worker, even while a cooldown holds the total below the number of hosts.
      total: Object.values(shares).reduce((n, k) => n + k, 0),
      shares,
      reason: reason ?? previous?.reason ?? decision.reason,
      inputs: reason !== undefined ? inputs : (previous?.inputs ?? inputs),
      at: reason !== undefined ? now : (previous?.at ?? now),
      writtenAt: now,
      state: decision.state,
    };
    const ttlMs = Math.max(this.#policy.scaleDownStabilizationMs, 20 * this.#o.config.scaling.intervalMs);
    if (!(await (this.#store as ScalingStore).writeDesired(pool, lease.key, lease.value, desired, ttlMs))) {
      this.#log.warn({ pool, token }, 'decision refused: the lease is no longer this host’s');
      return undefined;
    }
    if (reason === undefined) {
      this.#log.debug({ pool, inputs }, `autoscaler: ${decision.reason}`);
      return desired;
    }
    this.#log.info({ pool, from: current, to: decision.desired, shares, inputs }, `autoscaler: ${reason}`);
    this.#o.events.publish('scaling.decision', {
      pool,
      from: current,
      to: decision.desired,
      shares,
      reason,
      inputs,
      token,
    });
    return desired;
  }

  /**
   * Resize this host's pool to its share, in the background: a resize (workers starting, drains) may outlast
   * several rounds, and the rounds must keep publishing this host's load meanwhile, or the leader would think it
   * gone. Only the lease holder can have written the decision (the fence), so the newest one is the one to apply;
   * one written before this process started (a previous run's) waits for a fresh decision.
   */
  #apply(workers: WorkerManager, pool: PoolHealth, desired: DesiredCounts | undefined): void {
    if (!desired || desired.writtenAt < this.#startedAt) return;
    const share = desired.shares[this.#o.config.routemq.instanceId];
    if (share === undefined || share === pool.desired) return;
    this.#resizing.add(pool.name);
    workers
      .scaleTo(pool.name, share, `autoscaler: ${desired.reason}`, desired.inputs)
      .catch((err: unknown) => this.#warn(err, pool.name, 'autoscaler could not resize the pool'))
      .finally(() => this.#resizing.delete(pool.name));
  }

  /** The signals and decisions, per pool (what `/scaling` serves and the gauges show). */
  view(): ScalingView {
    const s = this.#o.config.scaling;
    const pools: Record<string, PoolScalingView> = {};
    const instance = this.#o.config.routemq.instanceId;
    for (const pool of this.#o.workers()?.getWorkerHealth().pools ?? []) {
      const cluster = this.#clusters.get(pool.name);
      const decided = s.autoScale ? cluster?.desired : undefined;
      const clusterCurrent = cluster?.current ?? pool.desired;
      pools[pool.name] = {
        current: pool.desired,
        clusterCurrent,
        desired: decided?.total ?? clusterCurrent,
        desiredHere: decided?.shares[instance] ?? pool.desired,
        minWorkers: s.minWorkers,
        maxWorkers: s.maxWorkers,
        load: cluster?.load ?? pool.load,
        queueDepth: cluster?.external.queueDepth,
        processingRate: cluster?.external.processingRate,
        reason: decided?.reason,
        decidedAt: decided?.at,
      };
    }
    return { instance, autoScale: s.autoScale, leader: this.isLeader, pools };
  }

  /** Stop deciding and give the lease up. Never rejects. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tick;
    await this.#lease?.stop();
  }
}
