import type { ResolvedConfig } from '../config/schema.js';
import { Consumer } from '../consumer/consumer.js';
import type { ConsumerOptions } from '../consumer/consumer.js';
import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RouteTable } from '../router/route-table.js';
import type { SessionRecord } from './records.js';
import type { RegistryView } from './registry-view.js';
import type { SessionRegistry } from './session-registry.js';

/** Who is asking, for {@link isAdoptable}. */
export interface Adopter {
  readonly instance: string;
  readonly run: string;
  /** The client ids this process runs now (its main session and every slot, starting ones included). */
  readonly ownClientIds: ReadonlySet<string>;
}

/**
 * Should this process adopt the session now? Yes when no valid claim of another run stands, and either the
 * session is this instance's own but no longer run here (a slot above the current size, a pool renamed by a filter
 * change), or its owner has been away (stopped, dead, stale) for at least `graceMs`. No I/O (the view remembers
 * when it first saw an owner away).
 */
export function isAdoptable(
  view: RegistryView,
  record: SessionRecord,
  me: Adopter,
  now: number,
  graceMs: number,
): boolean {
  const claim = view.winningClaim(record.clientId, now);
  if (claim && claim.run !== me.run) return false;
  if (record.instance === me.instance) {
    if (me.ownClientIds.has(record.clientId)) return false;
    // Left by an earlier run of this instance (a slot above today's size, a pool whose filter changed): nobody
    // will run it again. One of this run that is no longer run (a leave that could not drain) waits the grace.
    return record.run !== me.run || now - record.changedAt >= graceMs;
  }
  return view.awayForMs(record.instance, now) >= graceMs;
}

/** Options of {@link AdoptionManager}. */
export interface AdoptionManagerOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly registry: SessionRegistry;
  /**
   * The routes adopted messages run through (see `adoptionTable`), read as each adoption starts: after a reload,
   * later adoptions run the reloaded routes (one under way keeps the routes it started with).
   */
  readonly table: () => RouteTable;
  /** The client ids this process runs now. */
  readonly ownClientIds: () => ReadonlySet<string>;
  readonly onDeadLetter?: ConsumerOptions['onDeadLetter'];
  /** The app's dead-letter store: adopted messages that fail are stored before they are acked, like any other. */
  readonly deadLetters?: ConsumerOptions['deadLetters'];
  /** How often the registry is scanned for orphans, ms (also on every registry change). @defaultValue 2000 */
  readonly scanIntervalMs?: number;
}

/** How one adoption ended. */
export interface AdoptionResult {
  /**
   * `ended`: drained, ended and its record removed. `claimed-elsewhere`: another instance's claim won, nothing was
   * done. `kept`: it stopped before the end (the owner came back, the connection closed, it did not go idle, the
   * adopter stopped), so the session and its record stay. `failed`: an error (in `error`); the session stays too.
   */
  readonly outcome: 'ended' | 'claimed-elsewhere' | 'kept' | 'failed';
  /** Whether the broker still held the session (`undefined` when it never connected). */
  readonly sessionPresent: boolean | undefined;
  /** Messages whose handlers succeeded. */
  readonly handled: number;
  /** Messages sent to the dead-letter topic. */
  readonly deadLettered: number;
  readonly error?: unknown;
}

/** One adoption in progress. */
interface Adoption {
  readonly record: SessionRecord;
  consumer: Consumer | undefined;
  /** Set when the owner came back, the connection closed, or the manager stops: keep the session. */
  aborted: boolean;
  readonly abort: AbortController;
}

/** Adoptions at once. Each is one MQTT connection draining one session. */
const MAX_PARALLEL = 2;
/** An adoption drains for at most this long per attempt; what is left is adopted again on the next scan. */
const DRAIN_MS = 60_000;

/**
 * Finds orphaned sessions in the registry and adopts them: claim, connect under the session's client id, run what
 * it holds through the normal routes (retries, dead letters, ack after the handler), unsubscribe its filters, and
 * end the session once nothing is unacked; then remove its record. An adoption stops, keeping the session, when
 * its connection closes (the owner or another adopter took the client id: it never reconnects, so there is no kick
 * ping-pong) or when the owner is seen live again.
 */
export class AdoptionManager {
  readonly #o: AdoptionManagerOptions;
  readonly #log: Logger;
  readonly #running = new Map<string, Adoption>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #stopPromise: Promise<void> | undefined;
  readonly #onChange = (): void => this.scan();

  constructor(options: AdoptionManagerOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'adoption' });
  }

  /** Adoptions in progress, by client id. */
  get adopting(): readonly string[] {
    return [...this.#running.keys()];
  }

  /** Scan now and on every registry change, and every `scanIntervalMs`. */
  start(): void {
    this.#o.registry.on('change', this.#onChange);
    this.#timer = setInterval(() => this.scan(), this.#o.scanIntervalMs ?? 2000);
    this.#timer.unref();
    this.scan();
  }

  /**
   * Adopt one session now, whatever the grace (an operator's `routemq sessions adopt`): claim it, drain it through
   * the routes and end it, giving it back if its owner is seen live meanwhile. The caller checks first that the
   * owner is not live.
   *
   * @throws RouteMQError `RMQ_ERR_SESSION_NOT_FOUND` when the registry holds no such session,
   *   `RMQ_ERR_SESSION_BEING_ADOPTED` when this manager is adopting it already.
   */
  async adoptOne(clientId: string): Promise<AdoptionResult> {
    const { registry } = this.#o;
    const record = registry.view.sessions.get(clientId);
    if (!record)
      throw new RouteMQError(
        ErrorCodes.SESSION_NOT_FOUND,
        `No session '${clientId}' in the registry ${registry.topics.root}`,
      );
    if (this.#running.has(clientId))
      throw new RouteMQError(ErrorCodes.SESSION_BEING_ADOPTED, `Session '${clientId}' is being adopted already`);
    const watch = (): void => this.#checkOwners();
    registry.on('change', watch);
    try {
      return await this.#adopt(record);
    } finally {
      registry.off('change', watch);
    }
  }

  /** Look for orphans and owners that came back. Never throws. */
  scan(): void {
    if (this.#stopped) return;
    const { registry } = this.#o;
    const view = registry.view;
    const now = Date.now();
    this.#checkOwners();
    const me = { instance: registry.instanceId, run: registry.run, ownClientIds: this.#o.ownClientIds() };
    const graceMs = this.#o.config.routemq.orphanGraceS * 1000;
    this.#forgetEmptyInstances(view, now, graceMs);
    for (const record of view.sessions.values()) {
      if (this.#running.size >= MAX_PARALLEL) return;
      if (this.#running.has(record.clientId)) continue;
      if (isAdoptable(view, record, me, now, graceMs)) void this.#adopt(record);
    }
  }

  /**
   * Remove the records of instances away past the grace that own no session any more (their sessions were adopted
   * by several adopters at once, none of which saw itself finish last). Idempotent, so any instance may do it.
   */
  #forgetEmptyInstances(view: RegistryView, now: number, graceMs: number): void {
    const owners = new Set([...view.sessions.values()].map((s) => s.instance));
    for (const instance of view.instances.keys()) {
      if (owners.has(instance) || instance === this.#o.registry.instanceId) continue;
      if (view.awayForMs(instance, now) < graceMs) continue;
      this.#o.registry.removeInstance(instance).catch(() => undefined);
    }
  }

  /** Give a session back (abort its adoption) when its owner is live again. */
  #checkOwners(): void {
    const { registry } = this.#o;
    const view = registry.view;
    const now = Date.now();
    for (const adoption of this.#running.values()) {
      const owner = adoption.record.instance;
      if (owner !== registry.instanceId && view.isLive(owner, now) && !adoption.aborted) {
        this.#log.info({ clientId: adoption.record.clientId, owner }, 'the owner is back: handing its session back');
        adoption.aborted = true;
        adoption.abort.abort();
      }
    }
  }

  /** Never rejects: a failure is logged and returned as `failed`. */
  async #adopt(record: SessionRecord): Promise<AdoptionResult> {
    const { registry, config } = this.#o;
    const adoption: Adoption = { record, consumer: undefined, aborted: false, abort: new AbortController() };
    this.#running.set(record.clientId, adoption);
    const log = this.#log.child({ clientId: record.clientId, owner: record.instance, pool: record.pool });
    let sessionPresent: boolean | undefined;
    const result = (outcome: AdoptionResult['outcome'], error?: unknown): AdoptionResult => {
      const total = adoption.consumer?.stats().total;
      return {
        outcome,
        sessionPresent,
        handled: total?.handled ?? 0,
        deadLettered: total?.deadLettered ?? 0,
        ...(error !== undefined ? { error } : {}),
      };
    };
    try {
      if (!(await registry.claim(record.clientId))) {
        log.debug('another instance claimed this session first');
        return result('claimed-elsewhere');
      }
      if (this.#stopped || adoption.aborted) return result('kept');
      const table = this.#o.table();
      const consumer = new Consumer({
        config,
        table,
        routes: table.routes,
        clientId: record.clientId,
        // Without the clientId binding: the connection logs its clientId itself (a key twice is one key to a parser).
        logger: this.#log.child({ owner: record.instance, pool: record.pool }),
        adopt: { filters: record.filters },
        ...(this.#o.onDeadLetter ? { onDeadLetter: this.#o.onDeadLetter } : {}),
        ...(this.#o.deadLetters ? { deadLetters: this.#o.deadLetters } : {}),
      });
      adoption.consumer = consumer;
      let closed = false;
      consumer.on('fatal', () => {
        closed = true;
        adoption.aborted = true;
        adoption.abort.abort();
      });
      ({ sessionPresent } = await consumer.start());
      log.info({ sessionPresent, filters: record.filters }, 'adopting an orphaned session');
      await consumer.stop({
        endSession: !adoption.aborted,
        idleTimeoutMs: DRAIN_MS,
        timeoutMs: config.routemq.shutdownTimeoutMs,
        signal: adoption.abort.signal,
      });
      const handled = consumer.stats().total;
      // Kept, not ended, when something stayed unacked: the record must stay too, so it is adopted again.
      if (adoption.aborted || closed || !consumer.endedSession) {
        log.warn({ handled: handled.handled }, 'adoption stopped before the end; the session is kept');
        return result('kept');
      }
      await registry.remove(record.clientId);
      const others = [...registry.view.sessions.values()].some(
        (s) => s.instance === record.instance && s.clientId !== record.clientId,
      );
      if (!others && record.instance !== registry.instanceId) await registry.removeInstance(record.instance);
      log.info(
        { handled: handled.handled, deadLettered: handled.deadLettered, sessionPresent },
        'adopted session drained and ended',
      );
      return result('ended');
    } catch (err) {
      log.warn({ err: errorMessageOf(err) }, 'adoption failed; the session is kept and tried again later');
      await adoption.consumer?.stop();
      return result('failed', err);
    } finally {
      await registry.releaseClaim(record.clientId).catch(() => undefined);
      this.#running.delete(record.clientId);
    }
  }

  /** Stop scanning; adoptions in progress finish their handlers and keep their sessions. Memoised. */
  stop(): Promise<void> {
    this.#stopPromise ??= (async () => {
      this.#stopped = true;
      clearInterval(this.#timer);
      this.#o.registry.off('change', this.#onChange);
      await Promise.all(
        [...this.#running.values()].map(async (a) => {
          a.aborted = true;
          a.abort.abort();
          await a.consumer?.stop();
        }),
      );
    })();
    return this.#stopPromise;
  }
}
