import type { SessionRecord } from './records.js';
import type { RegistryView } from './registry-view.js';

/**
 * What a session is doing, as an observer of the registry sees it:
 * - `live`: its owner runs it.
 * - `leaving`: its owner drains it for good (a scale-down).
 * - `away`: its owner is stopped or gone, for less than `ROUTEMQ_ORPHAN_GRACE_S` (or for a time this observer
 *   cannot tell); the broker queues its share of the traffic.
 * - `orphaned`: its owner has been away for the grace or longer, or it no longer runs it (a slot above today's
 *   size, a changed filter): a live instance adopts it.
 * - `adopting`: a live instance holds the claim and is draining it.
 */
export type SessionState = 'live' | 'leaving' | 'away' | 'orphaned' | 'adopting';

/** One session of the registry, for `routemq sessions ls` and `/status`. */
export interface SessionEntry {
  readonly clientId: string;
  /** The owner instance. */
  readonly instance: string;
  /** The pool, or `'main'` for the main process's session. */
  readonly pool: string;
  readonly slot: number;
  readonly state: SessionState;
  /**
   * Seconds in this state: since the owner went away (`away`, `orphaned`), since the claim (`adopting`), else since
   * the record last changed. `null` when this observer cannot tell (an owner that died: its will carries no time).
   */
  readonly ageS: number | null;
  /** The route set (deploy hash) that owns the session. */
  readonly deploy: string;
  /** What the session subscribes to. */
  readonly filters: readonly string[];
  /** The record's last change, ms since the epoch (the owner's clock). */
  readonly changedAt: number;
  /** The adopting instance, while `adopting`. */
  readonly adoptedBy: string | null;
}

/** Options of {@link listSessions}. */
export interface ListSessionsOptions {
  /** `ROUTEMQ_ORPHAN_GRACE_S` in ms. */
  readonly graceMs: number;
  /**
   * How long an owner has been away, ms, or `null` when unknown. A long-lived observer (a running instance) passes
   * `view.awayForMs`, which counts from when it first saw the owner go; a one-shot reader uses {@link awayFromRecords}.
   * @defaultValue {@link awayFromRecords}
   */
  readonly awayForMs?: (instance: string, now: number) => number | null;
}

/**
 * How long an owner has been away, from the records alone: since its graceful stop (the `away` record's time), or
 * since its last refresh when its `live` record went stale. `null` when the will marked it away (the broker sent it
 * at the death, without a time) or it has no record: a one-shot reader cannot tell.
 */
export function awayFromRecords(view: RegistryView, instance: string, now: number): number | null {
  if (view.isLive(instance, now)) return 0;
  const r = view.instances.get(instance);
  if (!r || r.changedAt === null) return null;
  return Math.max(0, now - r.changedAt);
}

/** Every session of the view, sorted by instance, pool and slot. Pure: no I/O. */
export function listSessions(view: RegistryView, now: number, options: ListSessionsOptions): SessionEntry[] {
  const awayFor = options.awayForMs ?? ((instance: string, at: number) => awayFromRecords(view, instance, at));
  return [...view.sessions.values()]
    .map((record) => entry(view, record, now, options.graceMs, awayFor))
    .sort(
      (a, b) =>
        a.instance.localeCompare(b.instance) ||
        a.pool.localeCompare(b.pool) ||
        a.slot - b.slot ||
        a.clientId.localeCompare(b.clientId),
    );
}

function entry(
  view: RegistryView,
  record: SessionRecord,
  now: number,
  graceMs: number,
  awayFor: (instance: string, now: number) => number | null,
): SessionEntry {
  const since = (at: number): number => Math.max(0, Math.round((now - at) / 1000));
  const base = {
    clientId: record.clientId,
    instance: record.instance,
    pool: record.pool,
    slot: record.slot,
    deploy: record.deploy,
    filters: record.filters,
    changedAt: record.changedAt,
  };
  const claim = view.winningClaim(record.clientId, now);
  if (claim) return { ...base, state: 'adopting', ageS: since(claim.at), adoptedBy: claim.by };
  const owner = view.instances.get(record.instance);
  if (view.isLive(record.instance, now)) {
    // Leaving only while its owner lives to drain it; an owner that died mid-leave left it away like any other.
    if (record.state === 'leaving')
      return { ...base, state: 'leaving', ageS: since(record.changedAt), adoptedBy: null };
    // A live owner's records carry its current run; one of an earlier run is a session it no longer runs.
    const state = owner && owner.run !== record.run ? 'orphaned' : 'live';
    return { ...base, state, ageS: since(record.changedAt), adoptedBy: null };
  }
  const away = awayFor(record.instance, now);
  return {
    ...base,
    state: away !== null && away >= graceMs ? 'orphaned' : 'away',
    ageS: away === null ? null : Math.round(away / 1000),
    adoptedBy: null,
  };
}
