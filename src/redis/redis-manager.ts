import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import type { ResolvedConfig } from '../config/schema.js';
import { readTlsFiles } from '../util/tls-files.js';
import type { Logger } from '../logger.js';
import { backoffDelayMs } from '../util/backoff.js';

/** Connection state of {@link RedisManager}. */
export type RedisState = 'disabled' | 'connecting' | 'ready' | 'down' | 'closed';

/**
 * The one Redis client of a process (ioredis), with the app's key prefix (`ROUTEMQ_REDIS_PREFIX`). Redis is
 * optional everywhere: commands fail fast while it is down (no offline queue piling up), the outage is logged once
 * with a warning, the client keeps reconnecting with backoff, and nothing crashes. Each feature decides whether it
 * fails open or closed.
 */
export class RedisManager {
  readonly #log: Logger;
  readonly #client: Redis | undefined;
  readonly prefix: string;
  #state: RedisState;
  #stopPromise: Promise<void> | undefined;

  constructor(config: ResolvedConfig, logger: Logger) {
    this.#log = logger.child({ component: 'redis' });
    const r = config.redis;
    this.prefix = r.prefix;
    if (!r.enabled) {
      this.#state = 'disabled';
      return;
    }
    this.#state = 'connecting';
    const options: RedisOptions = {
      host: r.host,
      port: r.port,
      db: r.db,
      ...(r.username !== undefined ? { username: r.username } : {}),
      ...(r.password !== undefined ? { password: r.password.reveal() } : {}),
      // Read when the client is created; the config check made sure the files exist.
      ...(r.tls ? { tls: readTlsFiles(r.tls) } : {}),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // A silent partition (half-open TCP) must fail commands in seconds, not after the kernel's timeouts.
      commandTimeout: 2000,
      keepAlive: 10_000,
      retryStrategy: (times) => backoffDelayMs(times - 1, { baseMs: 200, maxMs: 10_000 }),
    };
    this.#client = new Redis(options);
    this.#client.on('ready', () => {
      if (this.#state === 'down') this.#log.info('Redis is back');
      this.#state = 'ready';
    });
    this.#client.on('error', (err: Error) => {
      if (this.#state !== 'down' && this.#state !== 'closed') {
        // Once per outage; the client keeps retrying in the background.
        this.#log.warn({ err: { message: err.message } }, 'Redis unavailable; continuing without it (local only)');
      }
      // An error of a connection attempt that lost the race to a good one must not mark a live client down.
      if (this.#state !== 'closed' && this.#client?.status !== 'ready') this.#state = 'down';
    });
  }

  get state(): RedisState {
    if (this.#state === 'disabled' || this.#state === 'closed') return this.#state;
    if (this.#client?.status === 'ready') return 'ready';
    return this.#state === 'connecting' ? 'connecting' : 'down';
  }

  /** True when commands can be sent now (the client's own status: an error event cannot leave it stale). */
  get available(): boolean {
    return this.#state !== 'closed' && this.#client?.status === 'ready';
  }

  /** The client when commands can be sent now, else `undefined`. */
  readyClient(): Redis | undefined {
    return this.available ? this.#client : undefined;
  }

  /** The client, for features that check {@link available} first. `undefined` when Redis is disabled. */
  get client(): Redis | undefined {
    return this.#client;
  }

  /** A key under the app's prefix. */
  key(...parts: readonly string[]): string {
    return this.prefix + parts.join(':');
  }

  /**
   * Resolve `true` once Redis is ready, or `false` after `timeoutMs` (or at once when disabled or closed). For
   * features that would rather wait a moment at start-up than begin on their fallback.
   */
  async whenReady(timeoutMs: number): Promise<boolean> {
    const client = this.#client;
    if (!client || this.available) return this.available;
    if (this.#state === 'closed' || this.#state === 'disabled') return false;
    return new Promise<boolean>((resolve) => {
      const done = (ready: boolean): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(ready);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(this.available), timeoutMs);
      client.on('ready', onReady);
    });
  }

  /** Start connecting. Resolves at once (Redis never blocks start-up); an outage only logs a warning. */
  start(): void {
    this.#client?.connect().catch(() => undefined);
  }

  /** Close the connection. Memoised; never rejects. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#state = 'closed';
      if (!this.#client) return;
      try {
        await this.#client.quit();
      } catch {
        this.#client.disconnect();
      }
    })();
    return this.#stopPromise;
  }
}
