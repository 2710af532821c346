import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { ResolvedConfig } from '../config/schema.js';
import { ErrorCodes, RouteMQError, errorMessageOf } from '../errors.js';
import type { ConnectionOptions } from '../mqtt/connection-options.js';
import { parseRecord, registryTopics } from '../sessions/records.js';
import type { RegistryTopics, SessionRecord } from '../sessions/records.js';
import { RegistryView } from '../sessions/registry-view.js';
import { DEFAULT_REFRESH_MS } from '../sessions/session-registry.js';
import type { DoctorCheck } from './doctor-check.js';
import { connectProbeClient } from '../mqtt/probe-client.js';

/** How long the doctor waits for the registry's retained records. */
const READ_TIMEOUT_MS = 3000;
/** Sessions listed one per row at most; the summary counts the rest. */
const MAX_ROWS = 20;

/** A session whose owner does not run it now, as the doctor lists it. */
export interface StrandedSession {
  readonly clientId: string;
  readonly instance: string;
  readonly pool: string;
  readonly slot: number;
  readonly filters: readonly string[];
  /**
   * `away`: its owner stopped or went silent less than the orphan grace ago (it may come back). `orphaned`: away
   * for at least the grace, or left behind by an earlier run of an instance that runs without it: a live instance
   * of the app and group adopts it.
   */
  readonly state: 'away' | 'orphaned';
  /** Why the owner is not running it. */
  readonly reason: 'stopped' | 'died' | 'silent' | 'unknown owner' | 'earlier run';
  /** How long the owner has been away, ms, when the records tell (a will carries no time). */
  readonly awayMs: number | undefined;
  /** The instance adopting it now (a valid claim), if any. */
  readonly adoptedBy: string | undefined;
}

/**
 * The sessions of `view` that no live owner runs, oldest first. Pure: what one reading of the retained records
 * says at `now`. A session of a live instance's current run is in use and left out.
 */
export function strandedSessions(view: RegistryView, now: number, graceMs: number): StrandedSession[] {
  const rows: StrandedSession[] = [];
  for (const record of view.sessions.values()) {
    const owner = view.instances.get(record.instance);
    const claim = view.winningClaim(record.clientId, now);
    const base = {
      clientId: record.clientId,
      instance: record.instance,
      pool: record.pool,
      slot: record.slot,
      filters: record.filters,
      adoptedBy: claim?.by,
    };
    if (owner && view.isLive(record.instance, now)) {
      if (owner.run === record.run) continue;
      // The instance restarted without this session (a slot above today's size, a pool whose filter changed).
      rows.push({ ...base, state: 'orphaned', reason: 'earlier run', awayMs: ageOf(record, now) });
      continue;
    }
    const { reason, since } = whyAway(owner, record);
    const awayMs = since === undefined ? undefined : Math.max(0, now - since);
    const state = awayMs !== undefined && awayMs >= graceMs ? 'orphaned' : 'away';
    rows.push({ ...base, state, reason, awayMs });
  }
  return rows.sort((a, b) => (b.awayMs ?? -1) - (a.awayMs ?? -1) || a.clientId.localeCompare(b.clientId));
}

function whyAway(
  owner: ReturnType<RegistryView['instances']['get']>,
  record: SessionRecord,
): { reason: StrandedSession['reason']; since: number | undefined } {
  if (!owner) return { reason: 'unknown owner', since: undefined };
  // A graceful stop writes its time; the will (a death) cannot. A live record not refreshed: from its last refresh.
  if (owner.state === 'away')
    return { reason: owner.changedAt === null ? 'died' : 'stopped', since: owner.changedAt ?? undefined };
  return { reason: 'silent', since: owner.changedAt ?? record.changedAt };
}

function ageOf(record: SessionRecord, now: number): number {
  return Math.max(0, now - record.changedAt);
}

/**
 * `routemq doctor`'s view of the session registry (see docs/sessions.md): read the retained records under
 * `<ROUTEMQ_REGISTRY_PREFIX>/<app>/<group>/` with a clean probe client (no adopter, nothing published but a read
 * barrier), and list the sessions that are away or orphaned, with their age. Messages published to their filters
 * wait there until the owner returns or a live instance adopts them.
 */
export async function checkSessions(config: ResolvedConfig, options: ConnectionOptions): Promise<DoctorCheck[]> {
  const topics = registryTopics(config.routemq.registryPrefix, config.routemq.appName, config.mqtt.groupName);
  const where = `app '${config.routemq.appName}', group '${config.mqtt.groupName}'`;
  const access = `grant this identity read and write access to ${config.routemq.registryPrefix}/# (the app needs it too)`;
  let read: { view: RegistryView; complete: boolean };
  try {
    read = await readRegistry(options, topics);
  } catch (err) {
    return [
      {
        check: 'sessions',
        status: 'warn',
        detail: `cannot read the session registry: ${errorMessageOf(err)}`,
        fix: access,
      },
    ];
  }
  const { view, complete } = read;
  const now = Date.now();
  const graceMs = config.routemq.orphanGraceS * 1000;
  const stranded = strandedSessions(view, now, graceMs);
  const live = [...view.instances.keys()].filter((id) => view.isLive(id, now)).sort();
  const total = view.sessions.size;
  const partial = complete ? '' : ' (the read barrier did not come back: the list may be incomplete)';
  if (total === 0) {
    return [
      {
        check: 'sessions',
        status: complete ? 'pass' : 'warn',
        detail:
          `no sessions recorded for ${where} under ${topics.root}${partial} ` +
          '(the app has not run against this broker, or ROUTEMQ_APP_NAME / MQTT_GROUP_NAME differ)',
        ...(complete ? {} : { fix: access }),
      },
    ];
  }
  const away = stranded.filter((s) => s.state === 'away').length;
  const orphaned = stranded.length - away;
  const summary =
    `${total} sessions recorded for ${where}: ${total - stranded.length} in use, ${away} away, ${orphaned} orphaned; ` +
    `live instances: ${live.length > 0 ? live.join(', ') : 'none'}${partial}`;
  if (stranded.length === 0) return [{ check: 'sessions', status: complete ? 'pass' : 'warn', detail: summary }];
  const grace = `ROUTEMQ_ORPHAN_GRACE_S (${config.routemq.orphanGraceS} s)`;
  const checks: DoctorCheck[] = [
    {
      check: 'sessions',
      status: 'warn',
      detail: summary,
      fix:
        'their share of the messages waits in the broker until the owner returns, or until a live instance of ' +
        `this app and group adopts them once the owner has been away ${grace}; ` +
        (live.length > 0 ? `live now: ${live.join(', ')}` : 'no instance runs now: start one'),
    },
  ];
  for (const s of stranded.slice(0, MAX_ROWS)) {
    checks.push({ check: `session ${s.clientId}`, status: 'warn', detail: describeStranded(s) });
  }
  if (stranded.length > MAX_ROWS) {
    checks.push({
      check: 'sessions (more)',
      status: 'warn',
      detail: `${stranded.length - MAX_ROWS} more sessions away or orphaned`,
    });
  }
  return checks;
}

/** One line about one stranded session, e.g. `orphaned: owner pod-a stopped 2m 5s ago; pool sa-any slot 1 (…)`. */
export function describeStranded(s: StrandedSession): string {
  const age = s.awayMs === undefined ? undefined : formatAge(s.awayMs);
  const owner =
    s.reason === 'earlier run'
      ? `left by an earlier run of ${s.instance}, which runs without it (record ${age} old)`
      : s.reason === 'unknown owner'
        ? `owner ${s.instance} has no instance record (away since an unknown time)`
        : s.reason === 'died'
          ? `owner ${s.instance} died without a goodbye (the broker published its will; away since an unknown time)`
          : s.reason === 'silent'
            ? `owner ${s.instance} has not refreshed its record for ${age}`
            : `owner ${s.instance} stopped ${age} ago`;
  const adopting = s.adoptedBy === undefined ? '' : `; being adopted by ${s.adoptedBy}`;
  return `${s.state}: ${owner}; pool ${s.pool} slot ${s.slot} (${s.filters.join(', ')})${adopting}`;
}

/** `3h 2m`, `2m 5s`, `12s`. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/**
 * Subscribe to every record of this app and group and take in the retained ones. A marker published after the
 * SUBACK comes back after them (the registry's own read barrier); `complete` is false when it did not within
 * {@link READ_TIMEOUT_MS} (no write access to the prefix, say).
 */
async function readRegistry(
  options: ConnectionOptions,
  topics: RegistryTopics,
): Promise<{ view: RegistryView; complete: boolean }> {
  const view = new RegistryView(DEFAULT_REFRESH_MS);
  const marker = `doctor-${randomUUID().slice(0, 8)}`;
  let client: MqttClient | undefined;
  try {
    client = await connectProbeClient(options, 'routemq-doctor');
    let echoed: () => void = () => undefined;
    const barrier = new Promise<boolean>((resolve) => {
      echoed = () => resolve(true);
      setTimeout(() => resolve(false), READ_TIMEOUT_MS).unref();
    });
    client.on('message', (topic, payload, packet) => {
      const named = topics.parse(topic);
      if (named?.kind === 'sync') {
        if (named.key === marker) echoed();
      } else if (named) view.apply(named.kind, named.key, parseRecord(payload), Date.now(), packet.retain);
    });
    const granted = await client.subscribeAsync(topics.all, { qos: 1 });
    if (granted.some((g) => g.qos > 2)) {
      throw new RouteMQError(ErrorCodes.REGISTRY_FAILED, `The broker refused the SUBSCRIBE to ${topics.all}`);
    }
    await client.publishAsync(`${topics.root}/sync/${marker}`, '', { qos: 1 }).catch(() => undefined);
    return { view, complete: await barrier };
  } finally {
    await client?.endAsync(true).catch(() => undefined);
  }
}
