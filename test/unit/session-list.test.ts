import { describe, expect, it } from 'vitest';
import { RECORD_VERSION } from '../../src/sessions/records.js';
import type { ClaimRecord, InstanceRecord, SessionRecord } from '../../src/sessions/records.js';
import type { RegistryView } from '../../src/sessions/registry-view.js';
import { awayFromRecords, listSessions } from '../../src/sessions/session-list.js';
import { instanceRecord, registryView, sessionRecord } from '../helpers/registry-records.js';
import type { RegistryRecord } from '../helpers/registry-records.js';

const REFRESH_MS = 10_000;
const NOW = 1_000_000_000;

function instance(id: string, state: 'live' | 'away', changedAt: number | null, run = `${id}-run`): InstanceRecord {
  return instanceRecord(id, state, changedAt, { run, deploy: 'd1' });
}

function session(clientId: string, owner: string, extra: Partial<SessionRecord> = {}): SessionRecord {
  return sessionRecord(clientId, owner, NOW - 60_000, { deploy: 'd1', ...extra });
}

function view(...records: RegistryRecord[]): RegistryView {
  return registryView(REFRESH_MS, NOW, records);
}

const state = (v: RegistryView, graceMs = 30_000) =>
  listSessions(v, NOW, { graceMs }).map((s) => [s.clientId, s.state, s.ageS]);

describe('listSessions: what an observer of the registry says of each session', () => {
  it('live while the owner refreshes, with the age of the record', () => {
    expect(state(view(instance('i1', 'live', NOW - 1000), session('c1', 'i1')))).toEqual([['c1', 'live', 60]]);
  });

  it('away after a graceful stop, then orphaned once the grace has passed, aged from the stop', () => {
    expect(state(view(instance('i1', 'away', NOW - 5000), session('c1', 'i1')))).toEqual([['c1', 'away', 5]]);
    expect(state(view(instance('i1', 'away', NOW - 45_000), session('c1', 'i1')))).toEqual([['c1', 'orphaned', 45]]);
  });

  it("away with an unknown age when the will marked the owner (a one-shot reader can't tell when)", () => {
    const v = view(instance('i1', 'away', null), session('c1', 'i1'));
    expect(state(v)).toEqual([['c1', 'away', null]]);
    expect(awayFromRecords(v, 'i1', NOW)).toBeNull();
    // A long-lived observer counts from when it first saw it go.
    expect(listSessions(v, NOW, { graceMs: 1, awayForMs: () => 5000 }).map((s) => s.state)).toEqual(['orphaned']);
  });

  it('away from the last refresh when a live record went stale (no will reached the broker)', () => {
    const v = view(instance('i1', 'live', NOW - 3 * REFRESH_MS - 2000), session('c1', 'i1'));
    expect(state(v)).toEqual([['c1', 'orphaned', 32]]);
  });

  it("orphaned when a live owner's record is of an earlier run (a slot it no longer runs)", () => {
    const v = view(instance('i1', 'live', NOW, 'new-run'), session('c1', 'i1', { run: 'old-run' }));
    expect(state(v)).toEqual([['c1', 'orphaned', 60]]);
  });

  it('leaving while the owner drains it, adopting while a live instance holds the claim', () => {
    const claim: ClaimRecord = {
      v: RECORD_VERSION,
      kind: 'claim',
      clientId: 'c2',
      by: 'i2',
      run: 'i2-run',
      at: NOW - 3000,
    };
    const v = view(
      instance('i1', 'away', NOW - 60_000),
      instance('i2', 'live', NOW),
      session('c1', 'i2', { state: 'leaving', changedAt: NOW - 2000 }),
      session('c2', 'i1'),
      claim,
    );
    expect(listSessions(v, NOW, { graceMs: 30_000 }).map((s) => [s.clientId, s.state, s.ageS, s.adoptedBy])).toEqual([
      ['c2', 'adopting', 3, 'i2'],
      ['c1', 'leaving', 2, null],
    ]);
  });

  it('a leaving session whose owner died mid-leave is away, then orphaned, like any other', () => {
    const v = view(
      instance('i1', 'away', NOW - 60_000),
      session('c1', 'i1', { state: 'leaving', changedAt: NOW - 61_000 }),
    );
    expect(listSessions(v, NOW, { graceMs: 30_000 }).map((s) => [s.clientId, s.state, s.ageS])).toEqual([
      ['c1', 'orphaned', 60],
    ]);
  });

  it('ignores the claim of an adopter that is gone', () => {
    const claim: ClaimRecord = { v: RECORD_VERSION, kind: 'claim', clientId: 'c1', by: 'gone', run: 'r', at: NOW };
    expect(state(view(instance('i1', 'away', NOW - 60_000), session('c1', 'i1'), claim))).toEqual([
      ['c1', 'orphaned', 60],
    ]);
  });
});
