import { describe, expect, it } from 'vitest';
import { isAdoptable } from '../../src/sessions/adoption.js';
import { parseRecord, registryTopics } from '../../src/sessions/records.js';
import type { ClaimRecord, InstanceRecord, SessionRecord } from '../../src/sessions/records.js';
import type { RegistryView } from '../../src/sessions/registry-view.js';
import { claimRecord, instanceRecord, registryView, sessionRecord } from '../helpers/registry-records.js';
import type { RegistryRecord } from '../helpers/registry-records.js';

const REFRESH = 10_000;
const GRACE = 30_000;
const T0 = 1_000_000;

function instance(id: string, state: 'live' | 'away', changedAt: number | null, run = `${id}-run`): InstanceRecord {
  return instanceRecord(id, state, changedAt, { run });
}
function session(clientId: string, owner: string, run = `${owner}-run`, changedAt = T0): SessionRecord {
  return sessionRecord(clientId, owner, changedAt, { run });
}
function claim(clientId: string, by: string, run = `${by}-run`): ClaimRecord {
  return claimRecord(clientId, by, T0, run);
}
const me = { instance: 'me', run: 'me-run', ownClientIds: new Set(['c-me-0']) };

function view(...records: RegistryRecord[]): RegistryView {
  return registryView(REFRESH, T0, records);
}

describe('isAdoptable', () => {
  it.each([
    ['an owner that is live', [instance('o', 'live', T0)], session('c', 'o'), T0 + 5_000, false],
    ['an owner that stopped within the grace', [instance('o', 'away', T0)], session('c', 'o'), T0 + GRACE - 1, false],
    ['an owner that stopped a grace ago', [instance('o', 'away', T0)], session('c', 'o'), T0 + GRACE, true],
    [
      'an owner whose live record went stale (3 refreshes)',
      [instance('o', 'live', T0)],
      session('c', 'o'),
      T0 + 3 * REFRESH,
      false,
    ],
    ['this instance, a session it runs', [], session('c-me-0', 'me', 'me-run'), T0, false],
    ['this instance, a session an earlier run left', [], session('c-me-9', 'me', 'old-run'), T0, true],
    [
      'this instance, a session of this run no longer run, within the grace',
      [],
      session('c-me-8', 'me', 'me-run'),
      T0 + 1,
      false,
    ],
    [
      'this instance, a session of this run no longer run, past the grace',
      [],
      session('c-me-8', 'me', 'me-run'),
      T0 + GRACE,
      true,
    ],
  ] as const)('%s → %s', (_name, instances, record, now, expected) => {
    const v = view(...instances, record);
    // The first look starts the observer's own clock for owners with no stop time (a stale record, a will).
    isAdoptable(v, record, me, T0, GRACE);
    expect(isAdoptable(v, record, me, now, GRACE)).toBe(expected);
  });

  it('a stale live record counts as away from when this observer first saw it, so the grace still applies', () => {
    const v = view(instance('o', 'live', T0), session('c', 'o'));
    const staleAt = T0 + 3 * REFRESH;
    expect(isAdoptable(v, session('c', 'o'), me, staleAt, GRACE)).toBe(false);
    expect(isAdoptable(v, session('c', 'o'), me, staleAt + GRACE, GRACE)).toBe(true);
  });

  it('a will (away, no time) starts the grace when first seen', () => {
    const v = view(instance('o', 'away', null), session('c', 'o'));
    expect(isAdoptable(v, session('c', 'o'), me, T0, GRACE)).toBe(false);
    expect(isAdoptable(v, session('c', 'o'), me, T0 + GRACE, GRACE)).toBe(true);
  });

  it("another live instance's claim blocks; a claim by a run that is gone does not", () => {
    const orphan = session('c', 'o');
    const live = view(instance('o', 'away', T0), instance('x', 'live', T0 + GRACE), orphan, claim('c', 'x'));
    expect(isAdoptable(live, orphan, me, T0 + GRACE, GRACE)).toBe(false);
    const gone = view(instance('o', 'away', T0), instance('x', 'away', T0), orphan, claim('c', 'x'));
    expect(isAdoptable(gone, orphan, me, T0 + GRACE, GRACE)).toBe(true);
  });

  it('the first valid claim wins a race, whatever came after it', () => {
    const v = view(instance('o', 'away', T0), instance('x', 'live', T0), instance('y', 'live', T0), session('c', 'o'));
    v.apply('claims', 'c', claim('c', 'x'), T0 + 1);
    v.apply('claims', 'c', claim('c', 'y'), T0 + 2);
    expect(v.winningClaim('c', T0 + 3)?.by).toBe('x');
    // Once x's run is gone, the next claim starts a new race.
    v.apply('instances', 'x', instance('x', 'away', T0 + 4), T0 + 4);
    v.apply('claims', 'c', claim('c', 'y'), T0 + 5);
    expect(v.winningClaim('c', T0 + 6)?.by).toBe('y');
  });
});

describe('parseRecord', () => {
  it('reads records and refuses anything else', () => {
    expect(parseRecord(JSON.stringify(instance('o', 'live', T0)))).toMatchObject({ kind: 'instance', instance: 'o' });
    expect(parseRecord('')).toBeUndefined();
    expect(parseRecord('not json')).toBeUndefined();
    expect(parseRecord(JSON.stringify({ ...instance('o', 'live', T0), v: 2 }))).toBeUndefined();
    expect(parseRecord(JSON.stringify({ v: 1, kind: 'session', clientId: 'c' }))).toBeUndefined();
  });
});

describe('registryTopics.parse', () => {
  it('names the record a topic under the root holds, and nothing else', () => {
    const t = registryTopics('routemq/registry', 'a', 'g');
    expect(t.parse(t.session('c-1'))).toEqual({ kind: 'sessions', key: 'c-1' });
    expect(t.parse(t.instance('i'))).toEqual({ kind: 'instances', key: 'i' });
    expect(t.parse(t.claim('c'))).toEqual({ kind: 'claims', key: 'c' });
    expect(t.parse(`${t.root}/sync/m`)).toEqual({ kind: 'sync', key: 'm' });
    expect(t.parse(`${t.root}/other/x`)).toBeUndefined();
    expect(t.parse('routemq/registry/b/g/sessions/c')).toBeUndefined();
  });
});
