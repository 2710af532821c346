import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { RedisManager } from '../redis/redis-manager.js';
import { ErrorCodes, RouteMQError } from '../errors.js';

/** Take the lease if nobody holds it (SET NX PX), and draw the next fencing token. */
const ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
return redis.call('INCR', KEYS[2])`;

/** Extend the lease, only if this holder still has it. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Give the lease up, only if this holder still has it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Options of {@link LeaderLease}. */
export interface LeaderLeaseOptions {
  readonly redis: RedisManager;
  /** Shown in the lease's value and in logs. */
  readonly holder: string;
  readonly leaseMs: number;
  readonly logger: Logger;
}

/** Events of {@link LeaderLease}. */
export interface LeaderLeaseEvents {
  acquired: [token: number];
  lost: [reason: string];
}

/**
 * A leader lease in Redis: `SET <prefix>scaling:leader <holder/nonce> NX PX leaseMs`, renewed every third of the
 * lease, with a fencing token (`INCR <prefix>scaling:epoch`) drawn on each acquisition. Writes made as leader are
 * checked against the lease's value inside Redis (see `ScalingStore.writeDesired`), so a deposed leader's late
 * write is refused.
 *
 * {@link isLeader} also turns false on its own once `leaseMs` has passed since the last renewal that succeeded
 * (counted from when it was sent): a holder cut off from Redis stops deciding within one lease period, by which
 * time another host may hold the lease.
 */
export class LeaderLease extends EventEmitter<LeaderLeaseEvents> {
  readonly #o: LeaderLeaseOptions;
  readonly #value: string;
  #token: number | undefined;
  #validUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;
  #warned = false;

  constructor(options: LeaderLeaseOptions) {
    super();
    this.#o = options;
    this.#value = `${options.holder}/${process.pid}/${randomBytes(6).toString('hex')}`;
  }

  get key(): string {
    return this.#o.redis.key('scaling', 'leader');
  }

  /** This holder's lease value (what fenced writes compare against). */
  get value(): string {
    return this.#value;
  }

  /** True while the lease is held and was renewed less than `leaseMs` ago. */
  get isLeader(): boolean {
    return this.#token !== undefined && performance.now() < this.#validUntil;
  }

  /** The fencing token of the current tenure, if leader. */
  get token(): number | undefined {
    return this.isLeader ? this.#token : undefined;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), Math.max(100, Math.floor(this.#o.leaseMs / 3)));
    void this.tick();
  }

  /** Try to acquire, or renew. Never rejects; a Redis error counts as "not renewed". Ticks never overlap. */
  tick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const client = this.#o.redis.readyClient();
    // Validity is counted on the monotonic clock from when the request left: it ends before Redis's expiry does.
    const sentAt = performance.now();
    try {
      if (!client) throw new RouteMQError(ErrorCodes.REDIS_UNAVAILABLE, 'Redis is not connected');
      const ms = String(this.#o.leaseMs);
      if (this.#token !== undefined) {
        const renewed = (await client.eval(RENEW, 1, this.key, this.#value, ms)) as number;
        if (renewed === 1) this.#validUntil = sentAt + this.#o.leaseMs;
        else this.#lose('another host holds the lease');
      } else {
        const token = (await client.eval(
          ACQUIRE,
          2,
          this.key,
          this.#o.redis.key('scaling', 'epoch'),
          this.#value,
          ms,
        )) as number;
        if (token > 0 && this.#stopped) {
          await client.eval(RELEASE, 1, this.key, this.#value);
        } else if (token > 0) {
          this.#token = token;
          this.#validUntil = sentAt + this.#o.leaseMs;
          this.#o.logger.info({ token, leaseMs: this.#o.leaseMs }, 'this host is now the autoscaler leader');
          this.emit('acquired', token);
        }
      }
      this.#warned = false;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Once per outage: an unreachable Redis, or an ACL that forbids EVAL, must not go unnoticed.
      if (!this.#warned) this.#o.logger.warn({ err: { message } }, 'autoscaler lease: Redis did not answer');
      this.#warned = true;
      if (this.#token !== undefined && performance.now() >= this.#validUntil) this.#lose(`could not renew: ${message}`);
    }
    if (this.#token !== undefined && performance.now() >= this.#validUntil) {
      this.#lose('the lease expired before renewal');
    }
  }

  #lose(reason: string): void {
    if (this.#token === undefined) return;
    this.#o.logger.warn({ token: this.#token, reason }, 'this host is no longer the autoscaler leader');
    this.#token = undefined;
    this.#validUntil = 0;
    this.emit('lost', reason);
  }

  /** Stop renewing and give the lease up, so another host takes over at once. Never rejects. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stopped = true;
    // A take in flight finishes first (and gives the lease back at once if it won it).
    await this.#ticking;
    const client = this.#o.redis.readyClient();
    const held = this.#token !== undefined;
    this.#token = undefined;
    if (!held || !client) return;
    try {
      await client.eval(RELEASE, 1, this.key, this.#value);
    } catch {
      // It expires on its own.
    }
  }
}
