import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import type { ConnectionOptions } from '../../src/mqtt/connection-options.js';
import { readOtherApps } from '../../src/sessions/other-apps-read.js';
import type { OtherAppsReadOptions } from '../../src/sessions/other-apps-read.js';
import { useFixture } from '../helpers/fixture.js';
import { uniqueName } from '../helpers/mqtt.js';
import { instanceRecord, sessionRecord } from '../helpers/registry-records.js';

const PREFIX = 'routemq/registry';

function connection(url: string, protocolVersion: 4 | 5 = 5): ConnectionOptions {
  return {
    url,
    client: { protocolVersion },
    reconnectMinMs: 1000,
    reconnectMaxMs: 1000,
    connectTimeoutMs: 5000,
    logger: silentLogger(),
  };
}

// The bounds of the one read of other apps' records: it stops at the barrier, at maxRecords, at the timeout, or
// when aborted, and always returns what it read.
describe('readOtherApps against a real broker', () => {
  const f = useFixture();

  const options = (group: string, extra: Partial<OtherAppsReadOptions> = {}): OtherAppsReadOptions => ({
    connection: connection(f.broker.url),
    clientIdPrefix: uniqueName('read'),
    prefix: PREFIX,
    group,
    app: 'mine',
    filters: [`$share/${group}/sa/+`],
    timeoutMs: 5000,
    refreshMs: 10_000,
    ...extra,
  });

  it('reads every retained record up to the barrier, and stops at maxRecords with what it has', async () => {
    const group = uniqueName('g');
    const publisher = await f.connect();
    const now = Date.now();
    const records = [
      instanceRecord('x-1', 'live', now, { app: 'x', group }),
      ...[0, 1, 2, 3, 4].map((s) =>
        sessionRecord(`x-${s}`, 'x-1', now, { app: 'x', group, filters: [`$share/${group}/sa/+`] }),
      ),
      sessionRecord('mine-0', 'm-1', now, { app: 'mine', group, filters: [`$share/${group}/sa/+`] }),
    ];
    for (const r of records) {
      const topic =
        r.kind === 'instance'
          ? `${PREFIX}/${r.app}/${group}/instances/${r.instance}`
          : `${PREFIX}/${r.app}/${group}/sessions/${r.clientId}`;
      await publisher.publishAsync(topic, JSON.stringify(r), { qos: 1, retain: true });
    }

    const all = await readOtherApps(options(group));
    expect(all.outcome).toBe('complete');
    expect(all.records).toBe(7);
    expect(all.overlaps.map((o) => [o.app, o.liveInstances, o.sessions.length])).toEqual([['x', ['x-1'], 5]]);
    expect(all.overlaps[0]?.sessions.every((s) => s.owner === 'live')).toBe(true);

    const capped = await readOtherApps(options(group, { maxRecords: 3 }));
    expect(capped.outcome).toBe('limit');
    expect(capped.records).toBe(3);
  });

  it('returns at once, aborted, when stopped while it reads', async () => {
    const controller = new AbortController();
    const reading = readOtherApps(options(uniqueName('g'), { signal: controller.signal }));
    controller.abort();
    expect(await reading).toMatchObject({ outcome: 'aborted', overlaps: [] });
  });

  it('times out, without throwing, when the barrier never comes back (MQTT 3.1.1, no write access)', async () => {
    const acl = join(f.dir, 'acl-read-only');
    writeFileSync(acl, [`topic read ${PREFIX}/#`, ''].join('\n'));
    const broker = await f.startBroker(['allow_anonymous true', `acl_file ${acl}`]);
    const group = uniqueName('g');
    const read = await readOtherApps(options(group, { connection: connection(broker.url, 4), timeoutMs: 500 }));
    expect(read).toEqual({ overlaps: [], records: 0, outcome: 'timeout' });
  });
});
