import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { withTimeout } from '../util/with-timeout.js';
import { RECORD_VERSION, parseRecord, registryTopics } from './records.js';
import type { ClaimRecord, InstanceRecord, RegistryTopicKind, RegistryTopics, SessionRecord } from './records.js';
import { RegistryConnection } from './registry-connection.js';
import { RegistryView } from './registry-view.js';

/** One session this process owns, as the registry records it. */
export interface OwnSession {
  readonly clientId: string;
  /** The pool, or `'main'`. */
  readonly pool: string;
  readonly slot: number;
  readonly filters: readonly string[];
  readonly state: 'live' | 'leaving';
}

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** A hash of the route set (see `deployHash`). */
  readonly deploy: string;
  /** This process's run id (random per start). */
  readonly run: string;
  /** How often the instance record is refreshed, ms; 3 missed refreshes make it stale. @defaultValue 10000 */
  readonly refreshMs?: number;
  /** @defaultValue `os.hostname()` */
  readonly host?: string;
  /** The instance id this registry connection speaks for. @defaultValue `ROUTEMQ_INSTANCE_ID` (its default) */
  readonly instanceId?: string;
  /**
   * An operator's presence (`routemq sessions adopt`), not an app instance: its instance record is removed at
   * stop, and its will removes it too (an empty retained message), so it leaves no record behind.
   * @defaultValue false
   */
  readonly transient?: boolean;
}

/** Events of {@link SessionRegistry}. */
export interface SessionRegistryEvents {
  /** A record arrived or was removed. */
  change: [];
}

/** How often an instance refreshes its record, ms (3 missed refreshes make it stale). */
export const DEFAULT_REFRESH_MS = 10_000;

/**
 * The session registry's connection: a clean MQTT session of its own (`<MQTT_CLIENT_ID>-<instance>-registry-<run>`)
 * that keeps this instance's retained records up to date and reads everyone's. Its v5/3.1.1 will marks the instance
 * `away` when the process dies without a goodbye. Traffic: one instance record per refresh period, plus one
 * record per session change; never per message.
 */
export class SessionRegistry extends EventEmitter<SessionRegistryEvents> {
  readonly view: RegistryView;
  readonly topics: RegistryTopics;
  readonly #o: SessionRegistryOptions;
  readonly #log: Logger;
  readonly #host: string;
  readonly #refreshMs: number;
  readonly #instance: string;
  readonly #conn: RegistryConnection;
  #timer: NodeJS.Timeout | undefined;
  /** What this process has published for its sessions, by client id (JSON, to publish only changes). */
  readonly #published = new Map<string, string>();
  #own: readonly OwnSession[] = [];
  #stopPromise: Promise<void> | undefined;

  constructor(options: SessionRegistryOptions) {
    super();
    this.#o = options;
    this.#log = options.logger.child({ component: 'session-registry' });
    this.#host = options.host ?? hostname();
    this.#refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
    this.#instance = options.instanceId ?? options.config.routemq.instanceId;
    this.view = new RegistryView(this.#refreshMs);
    const { config } = options;
    this.topics = registryTopics(config.routemq.registryPrefix, config.routemq.appName, config.mqtt.groupName);
    this.#conn = new RegistryConnection({
      config,
      logger: this.#log,
      topics: this.topics,
      run: options.run,
      onRecord: (kind, key, payload, retained) => this.#onRecord(kind, key, payload, retained),
      onConnect: (sessionPresent) => {
        // A reconnect after a drop: the broker may have published the will meanwhile.
        if (this.#timer !== undefined && !sessionPresent) void this.#republish();
      },
    });
  }

  get run(): string {
    return this.#o.run;
  }

  get instanceId(): string {
    return this.#instance;
  }

  /**
   * Connect, read every record of this app and group, and refuse when this instance id is live in another
   * process. Then publish this instance as live.
   *
   * @throws RouteMQError `RMQ_ERR_INSTANCE_ID_IN_USE`, `RMQ_ERR_REGISTRY_FAILED`, or the connect codes.
   */
  async start(): Promise<void> {
    const { config } = this.#o;
    const will = this.#o.transient ? '' : JSON.stringify(this.#instanceRecord('away', null));
    await this.#conn.open(`${config.mqtt.clientIdPrefix}-${this.#instance}-registry-${this.#o.run.slice(0, 6)}`, {
      topic: this.topics.instance(this.#instance),
      payload: will,
    });
    this.#refuseIfLiveElsewhere();
    await this.#publishInstance('live');
    this.#timer = setInterval(() => void this.#publishInstance('live'), this.#refreshMs);
    this.#timer.unref();
  }

  /** Publish what changed in this process's sessions; sessions no longer listed are left to adoption. */
  async setSessions(sessions: readonly OwnSession[]): Promise<void> {
    this.#own = sessions;
    const now = Date.now();
    await Promise.all(
      sessions.map(async (s) => {
        const record: Omit<SessionRecord, 'changedAt'> = {
          v: RECORD_VERSION,
          kind: 'session',
          app: this.#o.config.routemq.appName,
          group: this.#o.config.mqtt.groupName,
          clientId: s.clientId,
          instance: this.#instance,
          pool: s.pool,
          slot: s.slot,
          filters: s.filters,
          deploy: this.#o.deploy,
          run: this.#o.run,
          state: s.state,
        };
        const key = JSON.stringify(record);
        if (this.#published.get(s.clientId) === key) return;
        this.#published.set(s.clientId, key);
        await this.#publish(this.topics.session(s.clientId), { ...record, changedAt: now });
      }),
    );
  }

  /** Remove a session's record and claim (it was ended). */
  async remove(clientId: string): Promise<void> {
    this.#published.delete(clientId);
    const claimed = this.view.claims.has(clientId);
    // Our own view must not wait for the publish or its echo: a scan meanwhile would adopt the ended session again.
    // (Should the publish fail, the retained record comes back with the next connection's subscribe.)
    this.view.apply('sessions', clientId, undefined, Date.now());
    this.view.apply('claims', clientId, undefined, Date.now());
    await this.#conn.publish(this.topics.session(clientId), '');
    if (claimed) await this.#conn.publish(this.topics.claim(clientId), '');
  }

  /** Remove an instance record (its last session is gone). */
  async removeInstance(instance: string): Promise<void> {
    await this.#conn.publish(this.topics.instance(instance), '');
    this.view.apply('instances', instance, undefined, Date.now());
  }

  /**
   * Claim the adoption of a session. Every observer sees the claims of one topic in the broker's order, so the
   * first valid claim wins; this resolves once this claim has come back, with whether it won.
   */
  async claim(clientId: string): Promise<boolean> {
    const record: ClaimRecord = {
      v: RECORD_VERSION,
      kind: 'claim',
      clientId,
      by: this.#instance,
      run: this.#o.run,
      at: Date.now(),
    };
    await this.#publish(this.topics.claim(clientId), record);
    await withTimeout(this.#conn.barrier(), this.#o.config.mqtt.connectTimeoutMs);
    return this.view.winningClaim(clientId, Date.now())?.run === this.#o.run;
  }

  /** Drop this run's claim, if it won. */
  async releaseClaim(clientId: string): Promise<void> {
    // Only the winner clears the topic: a loser's claim may be the retained one while the winner still works, and
    // clearing it would let a third instance claim the session and take it over mid-adoption.
    if (this.view.winningClaim(clientId, Date.now())?.run !== this.#o.run) return;
    await this.#conn.publish(this.topics.claim(clientId), '');
    this.view.apply('claims', clientId, undefined, Date.now());
  }

  /**
   * Stop: mark this instance away (its sessions stay, and are adopted if it does not come back within the grace)
   * and disconnect without the will. Bounded: gives up when the connection drops meanwhile (the broker is going
   * away too) or after `mqtt.connectTimeoutMs`, and closes the connection either way. Memoised; never rejects.
   */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      clearInterval(this.#timer);
      const instanceTopic = this.topics.instance(this.#instance);
      try {
        await this.#conn.close(
          () =>
            this.#o.transient
              ? this.#conn.publish(instanceTopic, '')
              : this.#publish(instanceTopic, this.#instanceRecord('away', Date.now())),
          this.#o.config.mqtt.connectTimeoutMs,
        );
      } catch (err) {
        this.#log.warn(
          { err: errorMessageOf(err) },
          'registry: could not say goodbye; the will marks this instance away',
        );
      }
    })();
    return this.#stopPromise;
  }

  #refuseIfLiveElsewhere(): void {
    const mine = this.view.instances.get(this.#instance);
    if (!mine || mine.run === this.#o.run || !this.view.isLive(this.#instance, Date.now())) return;
    const sameHost = mine.host === this.#host;
    if (sameHost && !pidAlive(mine.pid)) return; // a crash the will did not report (a broker restart): stale
    throw new RouteMQError(
      ErrorCodes.INSTANCE_ID_IN_USE,
      `Instance id '${this.#instance}' is live in another process (host ${mine.host}, pid ${mine.pid}, route set ` +
        `${mine.deploy === this.#o.deploy ? 'the same' : 'a different one'}); refusing to start before taking its ` +
        'sessions over. Give each process its own ROUTEMQ_INSTANCE_ID (the default differs per host and directory)',
    );
  }

  async #republish(): Promise<void> {
    this.#published.clear();
    await this.#publishInstance('live').catch(() => undefined);
    await this.setSessions(this.#own).catch(() => undefined);
  }

  #instanceRecord(state: 'live' | 'away', changedAt: number | null): InstanceRecord {
    return {
      v: RECORD_VERSION,
      kind: 'instance',
      app: this.#o.config.routemq.appName,
      group: this.#o.config.mqtt.groupName,
      instance: this.#instance,
      host: this.#host,
      pid: process.pid,
      deploy: this.#o.deploy,
      state,
      changedAt,
      run: this.#o.run,
    };
  }

  async #publishInstance(state: 'live' | 'away'): Promise<void> {
    try {
      await this.#publish(this.topics.instance(this.#instance), this.#instanceRecord(state, Date.now()));
    } catch (err) {
      this.#log.warn(
        { err: errorMessageOf(err), code: ErrorCodes.REGISTRY_FAILED },
        'registry: could not refresh this instance',
      );
    }
  }

  async #publish(topic: string, record: object): Promise<void> {
    await this.#conn.publish(topic, JSON.stringify(record));
  }

  #onRecord(kind: Exclude<RegistryTopicKind, 'sync'>, key: string, payload: Buffer, retained: boolean): void {
    const record = parseRecord(payload);
    this.view.apply(kind, key, record, Date.now(), retained);
    // Someone else removed the record of a session this process runs (`routemq sessions end --force`): the slot
    // starts a new session under the same client id, so publish its record again.
    if (kind === 'sessions' && !record && this.#published.has(key) && this.#timer !== undefined) {
      this.#published.delete(key);
      void this.setSessions(this.#own).catch(() => undefined);
    }
    this.emit('change');
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
