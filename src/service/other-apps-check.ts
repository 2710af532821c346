/**
 * @module
 * The start-up check for other apps' sessions in this app's `$share` rotation (see `sessions/other-apps.ts`): one
 * bounded read, in the background, then one warning per other app. It never fails nor delays the start, adopts
 * or ends nothing, and adds nothing per message.
 */
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, errorMessageOf } from '../errors.js';
import type { Logger } from '../logger.js';
import { connectionOptionsFromConfig } from '../mqtt/connection-options.js';
import { otherAppCommands } from '../sessions/other-apps.js';
import type { OtherAppOverlap } from '../sessions/other-apps.js';
import { readOtherApps } from '../sessions/other-apps-read.js';
import { DEFAULT_REFRESH_MS } from '../sessions/session-registry.js';

/** Other apps warned about one by one at most; the rest are counted in one more line. */
const MAX_APPS_LOGGED = 20;
/** Sessions listed per app at most (the count is always given). */
const MAX_SESSIONS_LOGGED = 50;

/** Options of {@link checkOtherApps}. */
export interface OtherAppsCheckOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** This app's shared filters (`sharedFilters(table)`). */
  readonly filters: readonly string[];
  /** Stops the read (the service's stop). */
  readonly signal?: AbortSignal;
  /** @defaultValue `min(MQTT_CONNECT_TIMEOUT_MS, 5000)` for the connect, and again for the read */
  readonly timeoutMs?: number;
  /** @defaultValue `DEFAULT_MAX_OTHER_APP_RECORDS` (10,000) */
  readonly maxRecords?: number;
}

/**
 * Read, once, the session records of the other apps in this group, and log a warning (`RMQ_ERR_OTHER_APP_SESSIONS`)
 * for each app whose sessions subscribe to one of `filters` exactly. A read that fails or stops early is logged
 * (`RMQ_ERR_REGISTRY_FAILED`, with what was read); an aborted one is not. Never rejects.
 */
export async function checkOtherApps(o: OtherAppsCheckOptions): Promise<void> {
  const { config } = o;
  const log = o.logger.child({ component: 'other-apps-check' });
  const group = config.mqtt.groupName;
  const timeoutMs = o.timeoutMs ?? Math.min(config.mqtt.connectTimeoutMs, 5000);
  try {
    const read = await readOtherApps({
      connection: connectionOptionsFromConfig(config, 'other-apps', log),
      clientIdPrefix: `${config.mqtt.clientIdPrefix}-${config.routemq.instanceId}`,
      prefix: config.routemq.registryPrefix,
      group,
      app: config.routemq.appName,
      filters: o.filters,
      timeoutMs,
      refreshMs: DEFAULT_REFRESH_MS,
      ...(o.maxRecords !== undefined ? { maxRecords: o.maxRecords } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (read.outcome === 'aborted') return;
    for (const overlap of read.overlaps.slice(0, MAX_APPS_LOGGED)) warn(log, group, overlap);
    if (read.overlaps.length > MAX_APPS_LOGGED) {
      log.warn(
        { code: ErrorCodes.OTHER_APP_SESSIONS, group, more: read.overlaps.length - MAX_APPS_LOGGED },
        `${read.overlaps.length - MAX_APPS_LOGGED} more apps have sessions in this app's $share rotation; see routemq doctor`,
      );
    }
    if (read.outcome !== 'complete') {
      log.warn(
        { code: ErrorCodes.REGISTRY_FAILED, group, records: read.records, outcome: read.outcome, timeoutMs },
        read.outcome === 'limit'
          ? `other apps' sessions: stopped after ${read.records} records; apps among the rest were not checked`
          : `other apps' sessions: the read did not complete within ${timeoutMs} ms; apps not read were not checked`,
      );
    }
    log.debug(
      { group, records: read.records, outcome: read.outcome, apps: read.overlaps.length },
      "other apps' sessions checked",
    );
  } catch (err) {
    log.warn(
      { code: ErrorCodes.REGISTRY_FAILED, group, err: errorMessageOf(err) },
      "other apps' sessions: could not read them; this app goes on without the check",
    );
  }
}

function warn(log: Logger, group: string, overlap: OtherAppOverlap): void {
  const away = overlap.sessions.filter((s) => s.owner === 'away');
  const filters = [...new Set(overlap.sessions.flatMap((s) => s.filters))].sort();
  const listed = overlap.sessions.slice(0, MAX_SESSIONS_LOGGED);
  const effect =
    away.length > 0
      ? overlap.liveInstances.length > 0
        ? `${away.length} of them away: their turns wait until a live instance of '${overlap.app}' adopts them`
        : `${away.length} of them away and no instance of '${overlap.app}' runs: their turns of these messages ` +
          'wait in queues nobody reads, and are lost when the sessions expire'
      : `their owners run them: '${overlap.app}' handles some of these messages with its own code`;
  log.warn(
    {
      code: ErrorCodes.OTHER_APP_SESSIONS,
      otherApp: overlap.app,
      group,
      filters,
      sessionCount: overlap.sessions.length,
      clientIds: listed.map((s) => s.clientId),
      sessions: listed.map((s) => ({ clientId: s.clientId, instance: s.instance, owner: s.owner, filters: s.filters })),
      liveInstances: overlap.liveInstances,
      fix: otherAppCommands(overlap),
    },
    `app '${overlap.app}' has ${overlap.sessions.length} sessions in this app's $share rotation ` +
      `(group ${group}, ${filters.join(', ')}); ${effect}`,
  );
}
