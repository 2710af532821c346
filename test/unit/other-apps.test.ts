import { describe, expect, it } from 'vitest';
import { describeOtherApp, otherAppStatus } from '../../src/doctor/other-apps-check.js';
import { OtherAppsCollector, otherAppCommands, sharedFilters } from '../../src/sessions/other-apps.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { Router } from '../../src/router/router.js';
import { instanceRecord, sessionRecord } from '../helpers/registry-records.js';
import type { RegistryRecord } from '../helpers/registry-records.js';

// Which sessions of other apps share this app's $share rotation, from one reading of the retained records.

const NOW = 50_000_000;
const PREFIX = 'routemq/registry';

function topicOf(r: RegistryRecord): string {
  if (r.kind === 'instance') return `${PREFIX}/${r.app}/${r.group}/instances/${r.instance}`;
  if (r.kind === 'session') return `${PREFIX}/${r.app}/${r.group}/sessions/${r.clientId}`;
  return `${PREFIX}/x/g/claims/${r.clientId}`;
}

function collect(records: readonly RegistryRecord[], max?: number): OtherAppsCollector {
  const c = new OtherAppsCollector(PREFIX, 'g', 'mine', ['$share/g/sa/+', 'plain/+'], 10_000, max);
  for (const r of records) c.take(topicOf(r), Buffer.from(JSON.stringify(r)), NOW);
  return c;
}

describe('OtherAppsCollector', () => {
  it('keeps the sessions of other apps whose filters include one of this app’s shared filters exactly', () => {
    const c = collect([
      instanceRecord('a-1', 'away', NOW - 60_000, { app: 'sample' }),
      sessionRecord('s-main', 'a-1', NOW, { app: 'sample', pool: 'main', filters: ['plain/+'] }),
      sessionRecord('s-sa-0', 'a-1', NOW, { app: 'sample', filters: ['$share/g/sa/+'] }),
      sessionRecord('s-sa-1', 'a-1', NOW, { app: 'sample', filters: ['$share/g/sa/#', '$share/g/sa/+'] }),
      sessionRecord('s-other', 'a-1', NOW, { app: 'sample', filters: ['$share/g/sa/#'] }),
      sessionRecord('s-group', 'a-1', NOW, { app: 'sample', filters: ['$share/h/sa/+'] }),
      // This app's own records are its adoption's business.
      sessionRecord('m-0', 'm-1', NOW, { app: 'mine', filters: ['$share/g/sa/+'] }),
    ]);
    expect(c.records).toBe(7);
    expect(c.overlaps(NOW)).toEqual([
      {
        app: 'sample',
        liveInstances: [],
        sessions: [
          { clientId: 's-sa-0', instance: 'a-1', owner: 'away', pool: 'p', filters: ['$share/g/sa/+'] },
          { clientId: 's-sa-1', instance: 'a-1', owner: 'away', pool: 'p', filters: ['$share/g/sa/+'] },
        ],
      },
    ]);
  });

  it('tells live owners from away ones, and an app that runs from one that does not', () => {
    const c = collect([
      instanceRecord('b-1', 'live', NOW - 1_000, { app: 'b' }),
      instanceRecord('b-2', 'away', NOW - 1_000, { app: 'b' }),
      instanceRecord('c-1', 'live', NOW - 120_000, { app: 'c' }), // stale: not refreshed for 3 periods
      sessionRecord('b1-0', 'b-1', NOW, { app: 'b', filters: ['$share/g/sa/+'] }),
      sessionRecord('b2-0', 'b-2', NOW, { app: 'b', filters: ['$share/g/sa/+'] }),
      sessionRecord('c1-0', 'c-1', NOW, { app: 'c', filters: ['$share/g/sa/+'] }),
      sessionRecord('d1-0', 'd-1', NOW, { app: 'd', filters: ['$share/g/sa/+'] }), // no instance record
    ]);
    const o = c.overlaps(NOW);
    expect(o.map((x) => [x.app, x.liveInstances, x.sessions.map((s) => `${s.clientId}:${s.owner}`)])).toEqual([
      ['b', ['b-1'], ['b1-0:live', 'b2-0:away']],
      ['c', [], ['c1-0:away']],
      ['d', [], ['d1-0:away']],
    ]);
    // Away sessions nobody of their app will adopt: FAIL; an app that runs adopts its own after its grace: WARN.
    expect(o.map((x) => otherAppStatus(x))).toEqual(['warn', 'fail', 'fail']);
    expect(describeOtherApp(o[1]!, 'g')).toBe(
      "app 'c' (group g) has 1 sessions on $share/g/sa/+, 1 away; no instance of 'c' runs: c1-0 (away)",
    );
    expect(otherAppCommands(o[0]!)).toEqual([
      'ROUTEMQ_APP_NAME=b routemq sessions adopt b2-0   # or: sessions end b2-0',
      "stop app 'b' (its live instances run some of these sessions), then adopt or end them",
      "or give one of the two apps its own MQTT_GROUP_NAME (or the route a 'group' option)",
    ]);
  });

  it('skips removed records, foreign topics and what does not parse, and stops at maxRecords', () => {
    const c = new OtherAppsCollector(PREFIX, 'g', 'mine', ['$share/g/sa/+'], 10_000, 3);
    const s = sessionRecord('x-0', 'x-1', NOW, { app: 'x', filters: ['$share/g/sa/+'] });
    expect(c.take(`${PREFIX}/x/g/sessions/y-0`, Buffer.alloc(0), NOW)).toBe(true);
    expect(c.take(`${PREFIX}/x/g/sessions/z-0`, Buffer.from('{not json'), NOW)).toBe(true);
    expect(c.take(`${PREFIX}/x/g/sessions/x-0`, Buffer.from(JSON.stringify(s)), NOW)).toBe(true);
    expect(c.full).toBe(true);
    expect(c.take(`${PREFIX}/x/g/sessions/x-1`, Buffer.from(JSON.stringify(s)), NOW)).toBe(false);
    expect(c.records).toBe(3);
    expect(c.overlaps(NOW).map((o) => o.sessions.map((x) => x.clientId))).toEqual([['x-0']]);
  });
});

describe('sharedFilters', () => {
  it('lists the $share subscriptions of shared routes only, with their groups', () => {
    const router = new Router()
      .on('sa/{id}', () => undefined, { shared: true })
      .on('sb/{id}', () => undefined, { shared: true, group: 'other' })
      .on('direct/{id}', () => undefined);
    const table = compileRoutes(router, { defaultGroup: 'g' });
    expect(sharedFilters(table)).toEqual(['$share/g/sa/+', '$share/other/sb/+']);
  });
});
