/**
 * @module
 * What `routemq sessions ls|adopt|end` do, for an operator: read the session registry, adopt one session through
 * the app's routes, or end one without handling it. Each needs only the broker, never a running app.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/schema.js';
import { sanitizeInstanceId } from '../config/identity-defaults.js';
import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RedisManager } from '../redis/redis-manager.js';
import { provideSharedRedis, stopSharedRedis } from '../redis/shared-redis.js';
import { loadRouteFiles } from '../router/discovery.js';
import { compileRoutes } from '../router/route-table.js';
import { AdoptionManager } from '../sessions/adoption.js';
import type { AdoptionResult } from '../sessions/adoption.js';
import { adoptionTable, deployHash } from '../sessions/adoption-table.js';
import type { SessionRecord } from '../sessions/records.js';
import type { RegistryView } from '../sessions/registry-view.js';
import { RegistrySnapshot, discardSession } from '../sessions/registry-snapshot.js';
import { SessionRegistry } from '../sessions/session-registry.js';
import { listSessions } from '../sessions/session-list.js';
import type { SessionEntry } from '../sessions/session-list.js';

/** Options of {@link adoptSessionCommand} and {@link endSessionCommand}. */
export interface SessionCommandOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly clientId: string;
  /** Check and describe, change nothing. @defaultValue false */
  readonly dryRun?: boolean;
}

/** What {@link endSessionCommand} did (or, with `dryRun`, would do). */
export interface EndSessionReport {
  readonly session: SessionEntry;
  readonly dryRun: boolean;
  /** What it holds was discarded although its owner was live (`--force`). */
  readonly forced: boolean;
  /** The owner's presence record was removed too (it had no other session and is not live). */
  readonly instanceRemoved: boolean;
}

/** What {@link adoptSessionCommand} did (or, with `dryRun`, would do). */
export interface AdoptSessionReport {
  readonly session: SessionEntry;
  readonly dryRun: boolean;
  /** The routes of the app the messages run through (a catch-all dead-letters what none of them matches). */
  readonly routes: number;
  /** With `dryRun`: `undefined`. */
  readonly result: AdoptionResult | undefined;
}

/**
 * Every session of this app and group, read from the broker.
 *
 * @throws RouteMQError the connect codes, `RMQ_ERR_REGISTRY_FAILED`.
 */
export async function listSessionsCommand(config: ResolvedConfig, logger: Logger): Promise<SessionEntry[]> {
  const snapshot = await RegistrySnapshot.read(config, logger);
  try {
    return listSessions(snapshot.view, snapshot.readAt, { graceMs: config.routemq.orphanGraceS * 1000 });
  } finally {
    await snapshot.close();
  }
}

/**
 * End a session without handling what it holds (its queued messages are discarded), and remove its records.
 * Refused when its owner runs it or another instance adopts it, unless `force`.
 *
 * @throws RouteMQError `RMQ_ERR_SESSION_NOT_FOUND`, `RMQ_ERR_SESSION_OWNER_LIVE`, `RMQ_ERR_SESSION_BEING_ADOPTED`,
 *   the connect codes, `RMQ_ERR_REGISTRY_FAILED`.
 */
export async function endSessionCommand(
  options: SessionCommandOptions & { readonly force?: boolean },
): Promise<EndSessionReport> {
  const { config, logger, clientId } = options;
  const force = options.force ?? false;
  const dryRun = options.dryRun ?? false;
  const snapshot = await RegistrySnapshot.read(config, logger);
  try {
    const { session, record } = checkOperable(snapshot.view, snapshot.readAt, config, clientId, force);
    const forced = session.state === 'live' || session.state === 'leaving' || session.state === 'adopting';
    const others = [...snapshot.view.sessions.values()].some(
      (s) => s.instance === record.instance && s.clientId !== clientId,
    );
    const instanceRemoved = !others && !snapshot.view.isLive(record.instance, Date.now());
    if (dryRun) return { session, dryRun, forced, instanceRemoved };
    await discardSession(config, clientId, logger);
    await snapshot.remove(clientId);
    if (instanceRemoved) await snapshot.removeInstance(record.instance);
    logger.info({ clientId, owner: record.instance, pool: record.pool, forced }, 'session ended without handling');
    return { session, dryRun, forced, instanceRemoved };
  } finally {
    await snapshot.close();
  }
}

/**
 * Adopt a session now, as a live instance would after the grace: claim it, run what it holds through the app's
 * routes (retries, dead-letter topic, ack after the handler; a message no route matches is dead-lettered with
 * `RMQ_ERR_NO_ROUTE`), unsubscribe its filters, end it once nothing is unacked, and remove its record. Refused when
 * its owner runs it or another instance adopts it.
 *
 * @throws RouteMQError `RMQ_ERR_SESSION_NOT_FOUND`, `RMQ_ERR_SESSION_OWNER_LIVE`, `RMQ_ERR_SESSION_BEING_ADOPTED`,
 *   `RMQ_ERR_ADOPTION_INCOMPLETE` (the session is kept), route-file codes, the connect codes.
 */
export async function adoptSessionCommand(options: SessionCommandOptions): Promise<AdoptSessionReport> {
  const { config, logger, clientId } = options;
  const snapshot = await RegistrySnapshot.read(config, logger);
  let session: SessionEntry;
  try {
    session = checkOperable(snapshot.view, snapshot.readAt, config, clientId, undefined).session;
  } finally {
    await snapshot.close();
  }
  const routes = compileRoutes(await loadRouteFiles(config.routemq.routersDir), {
    defaultGroup: config.mqtt.groupName,
  });
  const table = adoptionTable(routes);
  if (options.dryRun) return { session, dryRun: true, routes: routes.routes.length, result: undefined };

  const redis = config.redis.enabled ? new RedisManager(config, logger) : undefined;
  if (redis) {
    redis.start();
    provideSharedRedis(() => Promise.resolve(redis));
  }
  // A presence of its own, so running instances honour its claim; it leaves no record behind.
  const registry = new SessionRegistry({
    config,
    logger,
    deploy: deployHash(routes),
    run: randomUUID(),
    instanceId: `sessions-adopt-${sanitizeInstanceId(hostname(), 40)}-${process.pid}`,
    transient: true,
  });
  const manager = new AdoptionManager({
    config,
    logger,
    registry,
    table: () => table,
    ownClientIds: () => new Set(),
    onDeadLetter: (info) => logger.warn({ ...info, clientId }, 'message dead-lettered'),
  });
  try {
    await registry.start();
    // Checked again on the registry's own (fresh) view: the owner may have come back meanwhile.
    session = checkOperable(registry.view, Date.now(), config, clientId, undefined).session;
    const result = await manager.adoptOne(clientId);
    if (result.outcome === 'claimed-elsewhere') {
      throw new RouteMQError(
        ErrorCodes.SESSION_BEING_ADOPTED,
        `Another instance claimed session '${clientId}' first; it adopts it`,
      );
    }
    if (result.outcome !== 'ended') {
      throw new RouteMQError(
        ErrorCodes.ADOPTION_INCOMPLETE,
        `The adoption of session '${clientId}' stopped before the end (${result.outcome}; ${result.handled} ` +
          'handled); the session and its record are kept',
        { cause: result.error },
      );
    }
    return { session, dryRun: false, routes: routes.routes.length, result };
  } finally {
    await manager.stop();
    await registry.stop();
    if (redis) {
      await stopSharedRedis();
      await redis.stop();
    }
  }
}

/**
 * The session and its record, when an operator may act on it.
 *
 * @throws RouteMQError `RMQ_ERR_SESSION_NOT_FOUND`; unless `force` is true, `RMQ_ERR_SESSION_BEING_ADOPTED` (a live
 *   instance holds the claim) and `RMQ_ERR_SESSION_OWNER_LIVE` (its owner runs it: `live` or `leaving`).
 */
function checkOperable(
  view: RegistryView,
  now: number,
  config: ResolvedConfig,
  clientId: string,
  force: boolean | undefined,
): { session: SessionEntry; record: SessionRecord } {
  const record = view.sessions.get(clientId);
  const session = listSessions(view, now, { graceMs: config.routemq.orphanGraceS * 1000 }).find(
    (s) => s.clientId === clientId,
  );
  if (!record || !session) {
    const root = `${config.routemq.registryPrefix}/${config.routemq.appName}/${config.mqtt.groupName}`;
    throw new RouteMQError(
      ErrorCodes.SESSION_NOT_FOUND,
      `No session '${clientId}' in the registry of app '${config.routemq.appName}', group ` +
        `'${config.mqtt.groupName}' (${root}); see routemq sessions ls`,
    );
  }
  if (force === true) return { session, record };
  // `undefined`: the command has no --force (adopt); `false`: it has one (end), so say so.
  const orForce = force === false ? ', or pass --force to end it anyway (what it holds is discarded)' : '';
  if (session.state === 'adopting') {
    throw new RouteMQError(
      ErrorCodes.SESSION_BEING_ADOPTED,
      `Session '${clientId}' is being adopted by instance '${session.adoptedBy ?? '?'}'; wait for it${orForce}`,
    );
  }
  if (session.state === 'live' || session.state === 'leaving') {
    throw new RouteMQError(
      ErrorCodes.SESSION_OWNER_LIVE,
      `Session '${clientId}' is ${session.state} on instance '${record.instance}', which is running; stop it ` +
        `first${orForce}`,
    );
  }
  return { session, record };
}
