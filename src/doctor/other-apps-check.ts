import type { ResolvedConfig } from '../config/schema.js';
import { errorMessageOf } from '../errors.js';
import type { ConnectionOptions } from '../mqtt/connection-options.js';
import type { RouteTable } from '../router/route-table.js';
import { otherAppCommands, sharedFilters } from '../sessions/other-apps.js';
import type { OtherAppOverlap } from '../sessions/other-apps.js';
import { readOtherApps } from '../sessions/other-apps-read.js';
import { DEFAULT_REFRESH_MS } from '../sessions/session-registry.js';
import type { DoctorCheck } from './doctor-check.js';

const CHECK = "other apps' sessions";
/** Client ids named per app in a row at most. */
const MAX_IDS = 10;

/**
 * How serious one other app's overlap is. `fail` when some of its sessions are away and no instance of that app
 * runs: nobody adopts them, so their turns of this app's messages wait in queues nobody reads until the sessions
 * expire (then they are lost). `warn` when that app runs: a live instance of it adopts its own away sessions after
 * its grace, and the sessions it runs handle their turns with that app's code (two apps in one group on purpose
 * is possible).
 */
export function otherAppStatus(overlap: OtherAppOverlap): 'warn' | 'fail' {
  const away = overlap.sessions.some((s) => s.owner === 'away');
  return away && overlap.liveInstances.length === 0 ? 'fail' : 'warn';
}

/** One line about one other app's overlapping sessions. */
export function describeOtherApp(overlap: OtherAppOverlap, group: string): string {
  const away = overlap.sessions.filter((s) => s.owner === 'away').length;
  const filters = [...new Set(overlap.sessions.flatMap((s) => s.filters))].sort().join(', ');
  const ids = overlap.sessions.slice(0, MAX_IDS).map((s) => `${s.clientId} (${s.owner})`);
  const more = overlap.sessions.length > MAX_IDS ? ` and ${overlap.sessions.length - MAX_IDS} more` : '';
  const running =
    overlap.liveInstances.length > 0
      ? `live instances of '${overlap.app}': ${overlap.liveInstances.join(', ')}`
      : `no instance of '${overlap.app}' runs`;
  return (
    `app '${overlap.app}' (group ${group}) has ${overlap.sessions.length} sessions on ${filters}, ` +
    `${away} away; ${running}: ${ids.join(', ')}${more}`
  );
}

/**
 * `routemq doctor`: do sessions of another app (another `ROUTEMQ_APP_NAME`, this `MQTT_GROUP_NAME`) subscribe to
 * one of this app's shared filters exactly? Such sessions take turns in this app's `$share` rotation, and this app's
 * adoption never sees them (it reads only its own app's registry). One row per such app (see
 * {@link otherAppStatus}), else one `pass` row.
 */
export async function checkOtherApps(
  config: ResolvedConfig,
  table: RouteTable,
  options: ConnectionOptions,
): Promise<DoctorCheck[]> {
  const filters = sharedFilters(table);
  const group = config.mqtt.groupName;
  if (filters.length === 0) return [{ check: CHECK, status: 'skip', detail: 'this app has no shared routes' }];
  const timeoutMs = Math.min(config.mqtt.connectTimeoutMs, 5000);
  let read;
  try {
    read = await readOtherApps({
      connection: options,
      clientIdPrefix: 'routemq-doctor',
      prefix: config.routemq.registryPrefix,
      group,
      app: config.routemq.appName,
      filters,
      timeoutMs,
      refreshMs: DEFAULT_REFRESH_MS,
    });
  } catch (err) {
    return [
      {
        check: CHECK,
        status: 'warn',
        detail: `cannot read the other apps' session records in group ${group}: ${errorMessageOf(err)}`,
        fix: `grant this identity read access to ${config.routemq.registryPrefix}/# (and write to its own app's part)`,
      },
    ];
  }
  const partial =
    read.outcome === 'complete'
      ? ''
      : read.outcome === 'limit'
        ? ` (stopped after ${read.records} records: apps among the rest were not checked)`
        : ` (the read did not complete within ${timeoutMs} ms: apps not read were not checked)`;
  if (read.overlaps.length === 0) {
    return [
      {
        check: CHECK,
        status: read.outcome === 'complete' ? 'pass' : 'warn',
        detail: `no other app in group ${group} has sessions on ${filters.join(', ')}${partial}`,
      },
    ];
  }
  return read.overlaps.map((overlap) => ({
    check: `${CHECK}: ${overlap.app}`,
    status: otherAppStatus(overlap),
    detail: describeOtherApp(overlap, group) + partial,
    fix: otherAppCommands(overlap, MAX_IDS).join('; '),
  }));
}
