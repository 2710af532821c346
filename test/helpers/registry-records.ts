import { RECORD_VERSION } from '../../src/sessions/records.js';
import type { ClaimRecord, InstanceRecord, SessionRecord } from '../../src/sessions/records.js';
import { RegistryView } from '../../src/sessions/registry-view.js';

/** Any record of the session registry. */
export type RegistryRecord = InstanceRecord | SessionRecord | ClaimRecord;

/** An instance record of app `a`, group `g`; `run` defaults to `<id>-run`. */
export function instanceRecord(
  id: string,
  state: 'live' | 'away',
  changedAt: number | null,
  extra: Partial<InstanceRecord> = {},
): InstanceRecord {
  return {
    v: RECORD_VERSION,
    kind: 'instance',
    app: 'a',
    group: 'g',
    instance: id,
    host: 'h',
    pid: 1,
    deploy: 'd',
    state,
    changedAt,
    run: `${id}-run`,
    ...extra,
  };
}

/** A live session record of pool `p`, slot 0, owned by `owner` (its run `<owner>-run`). */
export function sessionRecord(
  clientId: string,
  owner: string,
  changedAt: number,
  extra: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    v: RECORD_VERSION,
    kind: 'session',
    app: 'a',
    group: 'g',
    clientId,
    instance: owner,
    pool: 'p',
    slot: 0,
    filters: ['$share/g/x/+'],
    deploy: 'd',
    run: `${owner}-run`,
    state: 'live',
    changedAt,
    ...extra,
  };
}

/** A claim on `clientId` by instance `by` (its run `<by>-run`). */
export function claimRecord(clientId: string, by: string, at: number, run = `${by}-run`): ClaimRecord {
  return { v: RECORD_VERSION, kind: 'claim', clientId, by, run, at };
}

/** A registry view holding `records` as the broker's retained store gives them, all read at `now`. */
export function registryView(refreshMs: number, now: number, records: readonly RegistryRecord[]): RegistryView {
  const v = new RegistryView(refreshMs);
  for (const r of records) {
    const kind = r.kind === 'instance' ? 'instances' : r.kind === 'session' ? 'sessions' : 'claims';
    v.apply(kind, r.kind === 'instance' ? r.instance : r.clientId, r, now, true);
  }
  return v;
}
