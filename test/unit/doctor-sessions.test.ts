import { describe, expect, it } from 'vitest';
import { canaryPublishOptions, CANARY_EXPIRY_S } from '../../src/doctor/canary.js';
import { describeStranded, formatAge, strandedSessions } from '../../src/doctor/sessions-check.js';
import { RECORD_VERSION } from '../../src/sessions/records.js';
import type { ClaimRecord, InstanceRecord, SessionRecord } from '../../src/sessions/records.js';
import type { RegistryView } from '../../src/sessions/registry-view.js';
import { instanceRecord, registryView, sessionRecord } from '../helpers/registry-records.js';

// What `routemq doctor` says about the session registry, from one reading of its retained records.

const NOW = 10_000_000;
const GRACE_MS = 30_000;

function instance(id: string, state: 'live' | 'away', changedAt: number | null, run = `${id}-run`): InstanceRecord {
  return instanceRecord(id, state, changedAt, { run, app: 'app' });
}

function session(clientId: string, owner: string, run = `${owner}-run`, changedAt = NOW - 3_600_000): SessionRecord {
  return sessionRecord(clientId, owner, changedAt, { run, app: 'app', pool: 'sa-any', filters: ['$share/g/sa/+'] });
}

function view(
  instances: readonly InstanceRecord[],
  sessions: readonly SessionRecord[],
  claims: readonly ClaimRecord[] = [],
): RegistryView {
  // As the doctor reads them: every record comes from the broker's store (retained).
  return registryView(10_000, NOW, [...instances, ...sessions, ...claims]);
}

describe('strandedSessions', () => {
  it('leaves out the sessions a live instance runs now, and lists the others with their state and age', () => {
    const v = view(
      [
        instance('live-1', 'live', NOW - 2_000),
        instance('stopped-recently', 'away', NOW - 5_000),
        instance('stopped-long-ago', 'away', NOW - 600_000),
        instance('died', 'away', null),
        instance('silent', 'live', NOW - 45_000),
      ],
      [
        session('c-live', 'live-1'),
        session('c-earlier-run', 'live-1', 'an-earlier-run', NOW - 90_000),
        session('c-recent', 'stopped-recently'),
        session('c-old', 'stopped-long-ago'),
        session('c-died', 'died'),
        session('c-silent', 'silent'),
        session('c-no-owner', 'gone'),
      ],
    );
    const rows = strandedSessions(v, NOW, GRACE_MS);
    expect(rows.map((r) => [r.clientId, r.state, r.reason, r.awayMs])).toEqual([
      ['c-old', 'orphaned', 'stopped', 600_000],
      ['c-earlier-run', 'orphaned', 'earlier run', 90_000],
      ['c-silent', 'orphaned', 'silent', 45_000],
      ['c-recent', 'away', 'stopped', 5_000],
      // A will carries no time, and no record says when an unknown owner left: away, age unknown.
      ['c-died', 'away', 'died', undefined],
      ['c-no-owner', 'away', 'unknown owner', undefined],
    ]);
  });

  it('names the live instance that holds a valid claim on it', () => {
    const claim: ClaimRecord = {
      v: RECORD_VERSION,
      kind: 'claim',
      clientId: 'c-old',
      by: 'live-1',
      run: 'live-1-run',
      at: NOW - 1_000,
    };
    const v = view(
      [instance('live-1', 'live', NOW - 2_000), instance('old', 'away', NOW - 600_000)],
      [session('c-old', 'old')],
      [claim],
    );
    const [row] = strandedSessions(v, NOW, GRACE_MS);
    expect(row?.adoptedBy).toBe('live-1');
    expect(describeStranded(row!)).toBe(
      'orphaned: owner old stopped 10m 0s ago; pool sa-any slot 0 ($share/g/sa/+); being adopted by live-1',
    );
  });

  it('is empty when every session is in use', () => {
    const v = view([instance('a', 'live', NOW - 1_000)], [session('c1', 'a'), session('c2', 'a')]);
    expect(strandedSessions(v, NOW, GRACE_MS)).toEqual([]);
  });
});

describe('formatAge', () => {
  it('reads at a glance', () => {
    expect([0, 12_345, 125_000, 3 * 3_600_000 + 120_000, 2 * 86_400_000 + 3_600_000].map(formatAge)).toEqual([
      '0s',
      '12s',
      '2m 5s',
      '3h 2m',
      '2d 1h',
    ]);
  });
});

describe('canaryPublishOptions', () => {
  it('gives every canary a short expiry on MQTT 5, and QoS 0 (never queued for an offline session) on 3.1.1', () => {
    expect(canaryPublishOptions(5)).toEqual({ qos: 1, properties: { messageExpiryInterval: CANARY_EXPIRY_S } });
    expect(CANARY_EXPIRY_S).toBeLessThanOrEqual(5);
    expect(canaryPublishOptions(4)).toEqual({ qos: 0 });
  });
});
