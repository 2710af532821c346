/**
 * @module
 * The service's session side: the session registry this process publishes its sessions to, the adoption of
 * orphaned sessions, and the start-up check of other apps' sessions in this app's rotation. `RouteMQService` owns
 * one and decides when each part starts and stops.
 */
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RouteTable } from '../router/route-table.js';
import type { RouteMQApp } from '../runtime/app.js';
import { AdoptionManager } from '../sessions/adoption.js';
import { adoptionTable, deployHash } from '../sessions/adoption-table.js';
import { sharedFilters } from '../sessions/other-apps.js';
import { ownSessions } from '../sessions/own-sessions.js';
import { listSessions } from '../sessions/session-list.js';
import type { SessionEntry } from '../sessions/session-list.js';
import { SessionRegistry } from '../sessions/session-registry.js';
import type { OwnSession } from '../sessions/session-registry.js';
import { checkOtherApps } from './other-apps-check.js';

/** Options of {@link ServiceSessions}. */
export interface ServiceSessionsOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** The service's app: its routes, workers, dead-letter office and events. */
  readonly app: RouteMQApp;
  /** This process's run id, written into the registry's records. */
  readonly run: string;
  /** Whether the service is `running`: session records are only republished then. */
  readonly isRunning: () => boolean;
}

/**
 * The session registry, the adoption manager and the other-apps check of one `RouteMQService`.
 *
 * Start order (the service's): {@link startRegistry} after the app has loaded its routes, {@link startAdoption}
 * after the app has started. Stop order: {@link stopOtherAppsCheck}, {@link stopAdoption} (after the autoscaler),
 * {@link stopRegistry} (after the app). Each stop is idempotent and a no-op when its part never started.
 */
export class ServiceSessions {
  readonly #config: ResolvedConfig;
  readonly #log: Logger;
  readonly #app: RouteMQApp;
  readonly #run: string;
  readonly #isRunning: () => boolean;
  #registry: SessionRegistry | undefined;
  #adoption: AdoptionManager | undefined;
  /** The start-up check of other apps' sessions in this app's rotation, while it reads (never rejects). */
  #otherApps: Promise<void> | undefined;
  readonly #otherAppsAbort = new AbortController();
  #syncQueued = false;

  constructor(options: ServiceSessionsOptions) {
    this.#config = options.config;
    this.#log = options.logger;
    this.#app = options.app;
    this.#run = options.run;
    this.#isRunning = options.isRunning;
  }

  /** The session registry (records of every instance and session of this app and group), once started. */
  get registry(): SessionRegistry | undefined {
    return this.#registry;
  }

  /**
   * Create and start the session registry for the loaded `table`, then start, in the background, the check of other
   * apps' sessions in this app's rotation (not awaited: it only warns, so it never delays nor fails the start).
   *
   * @throws RouteMQError what {@link SessionRegistry.start} throws (`RMQ_ERR_INSTANCE_ID_IN_USE`, …); the check
   *   is not started then.
   */
  async startRegistry(table: RouteTable): Promise<void> {
    // Refused before any session is taken over: this instance id live in another process.
    const registry = new SessionRegistry({
      config: this.#config,
      logger: this.#log,
      deploy: deployHash(table),
      run: this.#run,
    });
    this.#registry = registry;
    await registry.start();
    // In the background and bounded: it only warns, so it never delays nor fails the start.
    this.#otherApps = checkOtherApps({
      config: this.#config,
      logger: this.#log,
      filters: sharedFilters(table),
      signal: this.#otherAppsAbort.signal,
    });
  }

  /**
   * Publish this process's sessions to the registry, then build and start the adoption of orphaned sessions, whose
   * routes follow the app's current table (`table` until a reload applies). Call after the app has started.
   *
   * @throws RouteMQError `RMQ_ERR_NOT_STARTED` before {@link startRegistry}; else what
   *   {@link SessionRegistry.setSessions} throws (adoption is not started then).
   */
  async startAdoption(table: RouteTable): Promise<void> {
    const registry = this.#registry;
    if (!registry) throw new RouteMQError(ErrorCodes.NOT_STARTED, 'Cannot start adoption before the session registry');
    await registry.setSessions(this.#ownSessions());
    const app = this.#app;
    const office = app.deadLetters;
    this.#adoption = new AdoptionManager({
      config: this.#config,
      logger: this.#log,
      registry,
      table: this.#adoptionRoutes(table),
      ownClientIds: () => new Set(this.#ownSessions().map((s) => s.clientId)),
      onDeadLetter: (info) => app.events.publish('message.dead_lettered', { workerId: 'adoption', ...info }),
      ...(office ? { deadLetters: (envelope) => office.put(envelope) } : {}),
    });
    this.#adoption.start();
  }

  /** Abort the other-apps check and resolve once it has ended (it never rejects). Idempotent. */
  stopOtherAppsCheck(): Promise<void> | undefined {
    this.#otherAppsAbort.abort();
    return this.#otherApps;
  }

  /** Stop adopting: see {@link AdoptionManager.stop}. Memoised there; a no-op before {@link startAdoption}. */
  stopAdoption(): Promise<void> | undefined {
    return this.#adoption?.stop();
  }

  /** Stop the session registry: see {@link SessionRegistry.stop}. Memoised there; a no-op before it was created. */
  stopRegistry(): Promise<void> | undefined {
    return this.#registry?.stop();
  }

  /**
   * Every session of this app and group as this instance sees them (what `/status` shows as `sessions`): its own,
   * the other instances', and the orphans being adopted. Empty before the registry has started.
   */
  list(): SessionEntry[] {
    const view = this.#registry?.view;
    if (!view) return [];
    return listSessions(view, Date.now(), {
      graceMs: this.#config.routemq.orphanGraceS * 1000,
      // Counted as the adopter counts it: from the records, else from when this instance first saw the owner go.
      awayForMs: (instance, now) => view.awayForMs(instance, now),
    });
  }

  /**
   * A slot that left for good (a scale-down, a reload's surge worker) ended its session and exited cleanly: remove
   * its record now, so nobody adopts a session that no longer exists. A slot that exited any other way keeps its
   * record, and is adopted after the grace. Never throws; a failure is logged (`RMQ_ERR_REGISTRY_FAILED`).
   */
  removeEndedSession(clientId: string): void {
    this.#registry
      ?.remove(clientId)
      .catch((err: unknown) =>
        this.#log.warn(
          { err, clientId, code: ErrorCodes.REGISTRY_FAILED },
          'could not remove the record of an ended session; it is adopted after the grace',
        ),
      );
  }

  /**
   * Republish this process's session records after a lifecycle event (a slot started, a pool scaled, a reload),
   * once per turn, and only while the service is running. Never throws; a failure is logged
   * (`RMQ_ERR_REGISTRY_FAILED`).
   */
  queueSessionSync(): void {
    if (this.#syncQueued || !this.#registry || !this.#isRunning()) return;
    this.#syncQueued = true;
    setImmediate(() => {
      this.#syncQueued = false;
      if (!this.#isRunning()) return;
      this.#registry
        ?.setSessions(this.#ownSessions())
        .catch((err: unknown) =>
          this.#log.warn({ err, code: ErrorCodes.REGISTRY_FAILED }, 'could not update the session registry'),
        );
    });
  }

  /**
   * The routes adopted sessions run through: the app's current table (a reload's, once one applied) with the
   * catch-all that dead-letters what no route matches, built once per table.
   */
  #adoptionRoutes(started: RouteTable): () => RouteTable {
    let built = { from: started, table: adoptionTable(started) };
    return () => {
      const now = this.#app.table ?? started;
      if (now !== built.from) built = { from: now, table: adoptionTable(now) };
      return built.table;
    };
  }

  /** The sessions this process runs now. */
  #ownSessions(): OwnSession[] {
    const table = this.#app.table;
    return table ? ownSessions(this.#config, table, this.#app.workers?.getWorkerHealth()) : [];
  }
}
