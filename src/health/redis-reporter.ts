import { hostname } from 'node:os';
import type { Logger } from '../logger.js';
import type { RedisManager } from '../redis/redis-manager.js';
import type { AppEvent, AppEvents } from '../runtime/app-events.js';
import type { HealthMonitor, HealthSnapshot } from './health-monitor.js';

const HOST = hostname();

/** Options of {@link RedisHealthReporter}. */
export interface RedisHealthReporterOptions {
  readonly redis: RedisManager;
  readonly events: AppEvents;
  readonly monitor: HealthMonitor;
  readonly instanceId: string;
  /** Heartbeat keys live this long without a refresh. */
  readonly heartbeatTtlMs: number;
  /** The event stream keeps about this many entries (XADD MAXLEN ~). @defaultValue 10000 */
  readonly streamMaxLen?: number;
  readonly logger: Logger;
}

/**
 * Mirrors health into Redis when it is enabled: every lifecycle event goes to a capped stream
 * (`<prefix>events`), and every live worker has a heartbeat key with a TTL
 * (`<prefix>heartbeat:<instance>:<worker>`, and `…:main` for the main process, each with its host name, refreshed
 * on each health sample), so other hosts and tools (`routemq doctor`) see which instances and workers are alive. Fails open: while Redis is down, nothing is written and nothing waits.
 */
export class RedisHealthReporter {
  readonly #o: RedisHealthReporterOptions;
  readonly #onEvent = (event: AppEvent): void => void this.#addEvent(event);
  readonly #onSample = (snapshot: HealthSnapshot): void => void this.#beat(snapshot);

  constructor(options: RedisHealthReporterOptions) {
    this.#o = options;
  }

  /** The stream key. */
  get streamKey(): string {
    return this.#o.redis.key('events');
  }

  /** The heartbeat key of one worker. */
  heartbeatKey(workerId: string): string {
    return this.#o.redis.key('heartbeat', this.#o.instanceId, workerId);
  }

  start(): void {
    this.#o.events.on('event', this.#onEvent);
    this.#o.monitor.on('sample', this.#onSample);
  }

  stop(): void {
    this.#o.events.off('event', this.#onEvent);
    this.#o.monitor.off('sample', this.#onSample);
  }

  async #addEvent(event: AppEvent): Promise<void> {
    const client = this.#o.redis.readyClient();
    if (!client) return;
    try {
      await client.xadd(
        this.streamKey,
        'MAXLEN',
        '~',
        String(this.#o.streamMaxLen ?? 10_000),
        '*',
        'type',
        event.type,
        'at',
        String(event.at),
        'instance',
        this.#o.instanceId,
        'data',
        JSON.stringify(event.data),
      );
    } catch (err) {
      this.#o.logger.debug({ err }, 'could not add an event to the Redis stream');
    }
  }

  async #beat(snapshot: HealthSnapshot): Promise<void> {
    const client = this.#o.redis.readyClient();
    if (!client) return;
    try {
      const pipeline = client.pipeline();
      const beat = (id: string, pid: number | undefined, status: string): void => {
        const value = JSON.stringify({ pid, status, host: HOST, at: snapshot.at });
        pipeline.set(this.heartbeatKey(id), value, 'PX', this.#o.heartbeatTtlMs);
      };
      // `main` too, so `routemq doctor` on another host sees this instance id in use even without worker pools.
      beat('main', process.pid, 'ready');
      for (const w of snapshot.workers) if (w.isAlive) beat(w.workerId, w.pid, w.status);
      await pipeline.exec();
    } catch (err) {
      this.#o.logger.debug({ err }, 'could not write worker heartbeats to Redis');
    }
  }
}
