import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { report, verdict } from '../helpers/checker.js';
import { steadyPublisher } from '../helpers/load.js';
import { publishMany, waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import { adoptions, brokerHasSession, sessionCluster, watchSessionRecords } from '../helpers/sessions.js';

// Deploys that change instance ids (every Kubernetes rollout, compose --scale, blue/green): the sessions a stopped
// instance leaves in the share group are adopted by a live one, so nothing waits there for the session expiry.
describe('deploys that change instance ids strand nothing', () => {
  const f = useFixture();
  let publisher: MqttClient | undefined;

  for (const replaced of [true, false]) {
    const name = replaced
      ? 'a rolling update (pod-a replaced by pod-c)'
      : 'a scale-in (pod-a stops, nothing replaces it)';
    it(`${name}: lost = 0 within 60 s of the last publish, with the default grace`, async () => {
      const startedAt = Date.now();
      const cluster = sessionCluster(f);
      const a = await cluster.start('pod-a');
      const b = await cluster.start('pod-b');
      publisher = await f.connect();
      const load = steadyPublisher(publisher, { topic: (id) => `sa/${id}`, ratePerSec: 200, total: 3000 });
      await waitUntil(() => readSeen(cluster.seenFile).length >= 500, 30_000, '500 handled');
      expect((await a.stop()).code).toBe(0);
      const c = replaced ? await cluster.start('pod-c') : undefined;
      await load.done;
      const doneAt = Date.now();
      // pod-a's two worker sessions and its main session keep their turn of the round robin until adopted.
      await waitUntil(
        () => verdict(load.acked, readSeen(cluster.seenFile)).lost.length === 0,
        60_000,
        'every acked message handled within 60 s of the last publish',
      );
      const v = verdict(load.acked, readSeen(cluster.seenFile));
      report(replaced ? 'sessions-rolling-update' : 'sessions-scale-in', v, startedAt);
      expect(v.lost).toEqual([]);
      expect(v.unexpected).toEqual([]);
      expect(load.acked.length).toBe(3000);
      expect(Date.now() - doneAt).toBeLessThanOrEqual(60_000);
      // pod-a's sessions are ended once they have gone quiet: its main session and both slots.
      const adoptedFromA = () => adoptions(b, ...(c ? [c] : [])).filter((l) => l['owner'] === 'pod-a');
      await waitUntil(() => adoptedFromA().length >= 3, 30_000, "pod-a's three sessions adopted and ended");
      const adopted = adoptedFromA();
      // Each of pod-a's sessions was adopted exactly once.
      const ids = adopted.map((l) => String(l['clientId']));
      expect(new Set(ids).size).toBe(ids.length);
    }, 150_000);
  }

  it('a full stop, messages published while nothing runs, then two new instance ids: lost = 0', async () => {
    const startedAt = Date.now();
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '2' });
    const a = await cluster.start('old-a');
    const b = await cluster.start('old-b');
    expect((await a.stop()).code).toBe(0);
    expect((await b.stop()).code).toBe(0);
    publisher = await f.connect();
    const ids = Array.from({ length: 300 }, (_, i) => `f${i}`);
    await publishMany(publisher, ids.length, (i) => ({ topic: `sa/${ids[i]}`, payload: '{}' }));
    const [c, d] = await Promise.all([cluster.start('new-c'), cluster.start('new-d')]);
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 60_000, 'every message handled');
    const v = verdict(ids, readSeen(cluster.seenFile));
    report('sessions-full-stop-new-ids', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    // Six sessions were left (2 instances × (2 slots + main)); each was adopted by exactly one new instance.
    await waitUntil(() => adoptions(c, d).length >= 6, 30_000, 'six adoptions');
    const adopted = adoptions(c, d).map((l) => String(l['clientId']));
    expect(new Set(adopted).size).toBe(6);
    expect(adopted).toHaveLength(6);
  }, 150_000);

  it('scale up above workerCount, then a restart: 30/30 handled (the extra slot is adopted)', async () => {
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '2' });
    const socket = f.path('scale', '.sock');
    const a = await cluster.start('scaler', { ROUTEMQ_CONTROL_SOCKET: socket });
    const scale = f.spawn(['scale', 'sa-any', '3'], { ROUTEMQ_CONTROL_SOCKET: socket });
    expect((await scale.exited).code).toBe(0);
    expect((await a.stop()).code).toBe(0);
    publisher = await f.connect();
    const ids = Array.from({ length: 30 }, (_, i) => `u${i}`);
    await publishMany(publisher, ids.length, (i) => ({ topic: `sa/${ids[i]}`, payload: '{}' }));
    const again = await cluster.start('scaler', { ROUTEMQ_CONTROL_SOCKET: socket });
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 30_000, '30/30 handled');
    const v = verdict(ids, readSeen(cluster.seenFile));
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    await waitUntil(() => adoptions(again).some((l) => l['pool'] === 'sa-any'), 30_000, 'slot 2 adopted');
  }, 120_000);

  it('a scale-down and a reload: the slots that leave end their sessions and remove their own records, unadopted', async () => {
    // A short grace: a record the owner left behind would be adopted within seconds, and the log would say so.
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '2' });
    const socket = f.path('leave', '.sock');
    const records = await watchSessionRecords(f, cluster.env);
    const app = await cluster.start('leaver', { ROUTEMQ_CONTROL_SOCKET: socket });
    const slot = (n: number): string => `${cluster.env.MQTT_CLIENT_ID}-leaver-sa-any-${n}-${cluster.saTag}`;
    const control = async (args: readonly string[]): Promise<void> => {
      const cli = f.spawn(args, { ...cluster.env, ROUTEMQ_CONTROL_SOCKET: socket });
      const { code } = await cli.exited;
      expect(code, cli.lines.join('\n')).toBe(0);
    };

    await control(['scale', 'sa-any', '3']);
    await waitUntil(() => records.state(slot(2)) === 'live', 30_000, "slot 2's live record");
    // Slots 1 and 2 unsubscribe, drain, end their sessions and exit; then their records go.
    await control(['scale', 'sa-any', '1']);
    await waitUntil(
      () => records.state(slot(1)) === null && records.state(slot(2)) === null,
      60_000,
      'the records of slots 1 and 2 removed',
    );
    // A reload's surge worker takes the lowest free slot above the size (1), and leaves like a scale-down.
    const before = records.history(slot(1)).length;
    await control(['reload']);
    await waitUntil(
      () => records.history(slot(1)).length > before && records.state(slot(1)) === null,
      60_000,
      "the surge worker's record published, then removed",
    );

    // Removed by its owner, not by adopting its own session after the grace.
    const adopted = app
      .logs()
      .filter((l) => l['msg'] === 'adopting an orphaned session')
      .map((l) => l['clientId']);
    expect(adopted).toEqual([]);
    for (const id of [slot(1), slot(2)]) expect(await brokerHasSession(f.broker.url, id)).toBe(false);
    // Each was `leaving` while it drained, then removed; slot 0 stayed live throughout.
    expect(records.history(slot(2))).toEqual(['live', 'leaving', null]);
    expect(records.history(slot(1))).toEqual(['live', 'leaving', null, 'leaving', null]);
    expect(records.history(slot(0))).toEqual(['live']);
  }, 180_000);
});
