/**
 * @module
 * Sessions of OTHER apps in this app's `$share` rotation. The registry of an app lives under
 * `<prefix>/<app>/<group>/`, and an instance reads only its own app's, so it never adopts (nor sees) the sessions of
 * another app name in the same group. Yet a broker keys a `$share` rotation by group and filter alone: an app whose
 * sessions subscribe to the very same `$share/<group>/<filter>` takes turns with this one, and while its owner is
 * away its turns go into a queue nobody reads (lost when the session expires). This file is the pure part: it takes
 * the retained records of every app in the group, one at a time, and keeps the overlapping ones. No I/O.
 */
import type { RouteTable } from '../router/route-table.js';
import { parseRecord } from './records.js';
import { RegistryView } from './registry-view.js';

/** The most records {@link OtherAppsCollector} takes in by default (sessions and instances of every app). */
export const DEFAULT_MAX_OTHER_APP_RECORDS = 10_000;
/** A record larger than this is skipped unparsed: RouteMQ's records are well under 2 KiB. */
const MAX_RECORD_BYTES = 64 * 1024;

/** One session of another app that subscribes to one of this app's shared filters. */
export interface OtherAppSession {
  readonly clientId: string;
  /** Its owner instance. */
  readonly instance: string;
  /** `live` when the owner's record says live and is fresh; else `away` (stopped, dead, stale or no record). */
  readonly owner: 'live' | 'away';
  readonly pool: string;
  /** The filters it has in common with this app (exact `$share/<group>/<filter>` strings). */
  readonly filters: readonly string[];
}

/** Every overlapping session of one other app. */
export interface OtherAppOverlap {
  readonly app: string;
  /** Sorted by client id. */
  readonly sessions: readonly OtherAppSession[];
  /** Instances of that app (in this group) that are live now: they adopt its own away sessions after its grace. */
  readonly liveInstances: readonly string[];
}

/**
 * The filters that put this app in a `$share` rotation: every shared route's `$share/<group>/<filter>`. A plain
 * filter is left out: every subscriber of a plain filter gets its own copy, so another app's session on it takes
 * nothing from this app.
 */
export function sharedFilters(table: RouteTable): string[] {
  return [...new Set(table.routes.filter((r) => r.shared).map((r) => r.mqttTopic))].sort();
}

/**
 * Takes in the retained records under `<prefix>/+/<group>/sessions/+` and `<prefix>/+/<group>/instances/+` one
 * at a time, and keeps, per other app, its instance records and those of its sessions that subscribe to one of
 * `filters`. Memory: the instance records (bounded by `maxRecords`) and the overlapping sessions only.
 */
export class OtherAppsCollector {
  /** How many records were taken in (parsed or not). */
  records = 0;
  readonly #prefixLevels: number;
  readonly #group: string;
  readonly #ownApp: string;
  readonly #filters: ReadonlySet<string>;
  readonly #max: number;
  readonly #views = new Map<string, RegistryView>();
  readonly #refreshMs: number;

  /**
   * @param prefix `ROUTEMQ_REGISTRY_PREFIX`
   * @param ownApp this app's name: its own records are skipped (its adoption deals with them).
   * @param filters this app's shared filters ({@link sharedFilters}).
   * @param refreshMs the instance records' refresh period, for their freshness.
   * @param maxRecords how many records to take in at most @defaultValue {@link DEFAULT_MAX_OTHER_APP_RECORDS}
   */
  constructor(
    prefix: string,
    group: string,
    ownApp: string,
    filters: readonly string[],
    refreshMs: number,
    maxRecords = DEFAULT_MAX_OTHER_APP_RECORDS,
  ) {
    this.#prefixLevels = prefix.split('/').length;
    this.#group = group;
    this.#ownApp = ownApp;
    this.#filters = new Set(filters.filter((f) => f.startsWith('$share/')));
    this.#refreshMs = refreshMs;
    this.#max = maxRecords;
  }

  /** Whether {@link take} has reached `maxRecords`: what comes after is not taken in. */
  get full(): boolean {
    return this.records >= this.#max;
  }

  /**
   * Take in one message of the read. Returns false (and ignores it) once {@link full}. A topic that is not
   * `<prefix>/<app>/<group>/(sessions|instances)/<key>`, this app's own records, removed records and anything
   * that does not parse as a record are skipped.
   */
  take(topic: string, payload: Buffer, now: number): boolean {
    if (this.full) return false;
    this.records++;
    const levels = topic.split('/');
    const app = levels[this.#prefixLevels];
    const group = levels[this.#prefixLevels + 1];
    const kind = levels[this.#prefixLevels + 2];
    const key = levels.slice(this.#prefixLevels + 3).join('/');
    if (app === undefined || app === this.#ownApp || group !== this.#group || key.length === 0) return true;
    if (kind !== 'sessions' && kind !== 'instances') return true;
    if (payload.length === 0 || payload.length > MAX_RECORD_BYTES) return true;
    const record = parseRecord(payload);
    if (record?.kind === 'session') {
      if (!record.filters.some((f) => this.#filters.has(f))) return true;
    } else if (record?.kind !== 'instance') return true;
    let view = this.#views.get(app);
    if (!view) this.#views.set(app, (view = new RegistryView(this.#refreshMs)));
    // Retained: read from the broker's store, so judged by the record's own time.
    view.apply(kind, key, record, now, true);
    return true;
  }

  /** The other apps with overlapping sessions, sorted by app name. */
  overlaps(now: number): OtherAppOverlap[] {
    const out: OtherAppOverlap[] = [];
    for (const [app, view] of this.#views) {
      if (view.sessions.size === 0) continue;
      const sessions = [...view.sessions.values()]
        .map((s): OtherAppSession => ({
          clientId: s.clientId,
          instance: s.instance,
          owner: view.isLive(s.instance, now) ? 'live' : 'away',
          pool: s.pool,
          filters: s.filters.filter((f) => this.#filters.has(f)),
        }))
        .sort((a, b) => a.clientId.localeCompare(b.clientId));
      const liveInstances = [...view.instances.keys()].filter((id) => view.isLive(id, now)).sort();
      out.push({ app, sessions, liveInstances });
    }
    return out.sort((a, b) => a.app.localeCompare(b.app));
  }
}

/** The commands an operator runs about one other app's overlapping sessions, in this app's environment. */
export function otherAppCommands(overlap: OtherAppOverlap, maxSessions = 20): string[] {
  const away = overlap.sessions.filter((s) => s.owner === 'away').slice(0, maxSessions);
  const env = `ROUTEMQ_APP_NAME=${overlap.app}`;
  return [
    ...away.map((s) => `${env} routemq sessions adopt ${s.clientId}   # or: sessions end ${s.clientId}`),
    ...(overlap.sessions.some((s) => s.owner === 'live')
      ? [`stop app '${overlap.app}' (its live instances run some of these sessions), then adopt or end them`]
      : []),
    `or give one of the two apps its own MQTT_GROUP_NAME (or the route a 'group' option)`,
  ];
}
