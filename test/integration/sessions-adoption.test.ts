import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { DeadLetterEnvelope } from '../../src/index.js';
import { useFixture } from '../helpers/fixture.js';
import { report, verdict } from '../helpers/checker.js';
import { collect, publishMany, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import { SESSIONS_ROUTERS, adoptions, sessionCluster } from '../helpers/sessions.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

/** Log lines of adoptions that began (a claim won), per client id. */
function began(...apps: readonly SpawnedApp[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of apps.flatMap((a) => a.logs())) {
    if (l['msg'] !== 'adopting an orphaned session') continue;
    const id = String(l['clientId']);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Messages the app with this pid handled. */
function handledBy(file: string, app: SpawnedApp): number {
  const pids = new Set([app.child.pid, ...app.logs().flatMap((l) => (l['workerPid'] ? [l['workerPid']] : []))]);
  return readSeen(file).filter((s) => pids.has(s.pid)).length;
}

describe('orphan adoption is safe', () => {
  const f = useFixture();
  let publisher: MqttClient | undefined;

  /** Start `id` once, stop it, and queue `n` messages in the sessions it left (nobody else is in the group). */
  async function orphanWithQueue(
    cluster: ReturnType<typeof sessionCluster>,
    id: string,
    n: number,
    payload = '{}',
  ): Promise<string[]> {
    const owner = await cluster.start(id);
    expect((await owner.stop()).code).toBe(0);
    publisher = await f.connect();
    const ids = Array.from({ length: n }, () => uniqueName('m'));
    await publishMany(publisher, ids.length, (i) => ({ topic: `sa/${ids[i]}`, payload }));
    return ids;
  }

  it('the owner returns mid-adoption: the owner wins, nothing is lost, at most 3 takeovers', async () => {
    const startedAt = Date.now();
    // One slot, one handler at a time, 300 ms each: the adoption takes ~9 s, so the owner comes back during it.
    const cluster = sessionCluster(f, {
      SESS_WORKERS: '1',
      ROUTEMQ_CONCURRENCY: '1',
      ROUTEMQ_ORPHAN_GRACE_S: '1',
    });
    const ids = await orphanWithQueue(cluster, 'owner', 30, '{"delayMs":300}');
    const adopter = await cluster.start('adopter');
    await waitUntil(() => handledBy(cluster.seenFile, adopter) >= 3, 30_000, 'the adoption under way');
    const owner = await cluster.start('owner');
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 60_000, 'every message handled');
    const v = verdict(ids, readSeen(cluster.seenFile));
    report('sessions-owner-returns', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    expect(handledBy(cluster.seenFile, owner)).toBeGreaterThan(0); // the owner took its session back
    const takeovers = [...owner.logs(), ...adopter.logs()].filter(
      (l) => l['code'] === 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER' || l['code'] === 'RMQ_ERR_MQTT_NOT_CONNECTED',
    );
    expect(takeovers.length).toBeLessThanOrEqual(3);
    // The owner kept running: no slot of it gave up.
    expect(owner.logs().some((l) => l['code'] === 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER')).toBe(false);
  }, 120_000);

  it('three adopters race for the same orphans: exactly one adopts each, lost = 0, duplicates ≤ the receive maximum', async () => {
    const startedAt = Date.now();
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '1' });
    const ids = await orphanWithQueue(cluster, 'gone', 200);
    const adopters = await Promise.all(['r1', 'r2', 'r3'].map((id) => cluster.start(id)));
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 60_000, 'every message handled');
    await waitUntil(
      () => adoptions(...adopters).filter((l) => l['owner'] === 'gone').length >= 3,
      30_000,
      '3 adoptions',
    );
    const v = verdict(ids, readSeen(cluster.seenFile));
    report('sessions-adopters-race', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    expect(v.duplicated.length).toBeLessThanOrEqual(256);
    // 'gone' left its main session and two slots; each was begun and finished by exactly one adopter.
    const finished = adoptions(...adopters)
      .filter((l) => l['owner'] === 'gone')
      .map((l) => String(l['clientId']));
    expect(finished).toHaveLength(3);
    expect(new Set(finished).size).toBe(3);
    for (const id of finished) expect(began(...adopters).get(id)).toBe(1);
  }, 120_000);

  it('an adopter killed midway: another one finishes the job, lost = 0', async () => {
    const startedAt = Date.now();
    const cluster = sessionCluster(f, {
      SESS_WORKERS: '1',
      ROUTEMQ_CONCURRENCY: '1',
      ROUTEMQ_ORPHAN_GRACE_S: '1',
    });
    const ids = await orphanWithQueue(cluster, 'left', 30, '{"delayMs":300}');
    const first = await cluster.start('first');
    await waitUntil(() => handledBy(cluster.seenFile, first) >= 3, 30_000, 'the first adoption under way');
    process.kill(-(first.child.pid as number), 'SIGKILL'); // the app and its workers, as the OOM killer would
    await first.exited;
    const second = await cluster.start('second');
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 60_000, 'every message handled');
    const v = verdict(ids, readSeen(cluster.seenFile));
    report('sessions-adopter-killed', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    expect(handledBy(cluster.seenFile, second)).toBeGreaterThan(0);
    await waitUntil(() => adoptions(second).some((l) => l['owner'] === 'left'), 30_000, "the second adopts 'left'");
  }, 120_000);

  it('a renamed param keeps the pool and its sessions: 20/20 handled at once by the resumed sessions', async () => {
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '3600' });
    const ids = await orphanWithQueue(cluster, 'renamer', 20);
    const renamed = await cluster.start('renamer', { SESS_VERSION: 'v2' });
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 30_000, '20/20 handled');
    const v = verdict(ids, readSeen(cluster.seenFile));
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    expect(readSeen(cluster.seenFile).every((s) => s.version === 'v2')).toBe(true);
    const started = renamed.logs().filter((l) => l['msg'] === 'worker started');
    expect(started.map((l) => [l['pool'], l['sessionPresent']])).toEqual([
      ['sa-any', true],
      ['sa-any', true],
    ]);
    expect(adoptions(renamed)).toEqual([]); // nothing needed adopting
  }, 120_000);

  it("a changed filter: the old session's messages run on the route that now matches, or are dead-lettered with RMQ_ERR_NO_ROUTE", async () => {
    // v3: no route matches the old topics any more -> dead letters with a code, never acked unrun.
    const gone = sessionCluster(f, { SESS_WORKERS: '1' });
    const lostIds = await orphanWithQueue(gone, 'refilter', 10);
    const dead = await collect(publisher as MqttClient, 'routemq/dlq/#');
    const v3 = await gone.start('refilter', { SESS_VERSION: 'v3' });
    await dead.waitFor(10, 30_000);
    const envelopes = dead.messages.map((m) => JSON.parse(m.payload.toString()) as DeadLetterEnvelope);
    expect(envelopes.map((e) => e.error.code)).toEqual(Array.from({ length: 10 }, () => 'RMQ_ERR_NO_ROUTE'));
    expect(envelopes.map((e) => e.topic.split('/')[1]).sort()).toEqual([...lostIds].sort());
    expect(readSeen(gone.seenFile)).toEqual([]);
    await waitUntil(() => adoptions(v3).some((l) => l['pool'] === 'sa-any'), 30_000, 'the old pool adopted');

    // v4: a main-process route now matches the old topics -> handled there.
    const moved = sessionCluster(f, { SESS_WORKERS: '1' });
    const ids = await orphanWithQueue(moved, 'refilter2', 10);
    await moved.start('refilter2', { SESS_VERSION: 'v4' });
    await waitUntil(() => verdict(ids, readSeen(moved.seenFile)).lost.length === 0, 30_000, '10/10 handled');
    const v = verdict(ids, readSeen(moved.seenFile));
    expect(v.lost).toEqual([]);
    expect(v.duplicated).toEqual([]);
    expect(readSeen(moved.seenFile).every((s) => s.route === 'sa-main')).toBe(true);
  }, 120_000);

  it("a named pool's filter changed: new sessions, and the old one's queue is drained by adoption: lost = 0", async () => {
    // The pool keeps its name, so only the client id's tag tells the sessions apart. Were the old session resumed,
    // what the broker queued for its old filter during the deploy would come tagged with a stale identifier and be
    // acked unrun (or, untagged, run twice for as long as the session lives).
    const cluster = sessionCluster(f, { SESS_WORKERS: '1', SESS_VERSION: 'v5' });
    const gap = await orphanWithQueue(cluster, 'named', 10);
    const next = await cluster.start('named', { SESS_VERSION: 'v6' });
    const live = Array.from({ length: 10 }, () => uniqueName('m'));
    await publishMany(publisher as MqttClient, live.length, (i) => ({ topic: `sa/${live[i]}`, payload: '{}' }));
    const ids = [...gap, ...live];
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 60_000, '20/20 handled');
    const v = verdict(ids, readSeen(cluster.seenFile));
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    // The old session also took copies of the live ones until it was adopted: those may run twice (at least once).
    expect(v.duplicated.every((id) => live.includes(id))).toBe(true);
    const started = next.logs().filter((l) => l['msg'] === 'worker started');
    expect(started.map((l) => [l['pool'], l['sessionPresent']])).toEqual([['fixed', false]]);
    await waitUntil(() => adoptions(next).some((l) => l['pool'] === 'fixed'), 30_000, 'the old session adopted');
  }, 120_000);

  it('adoptions after a reload run the reloaded routes', async () => {
    const versionFile = join(f.dir, `${uniqueName('version')}.txt`);
    writeFileSync(versionFile, 'v1');
    const cluster = sessionCluster(f, { SESS_WORKERS: '1', ROUTEMQ_ORPHAN_GRACE_S: '1' });
    const socket = join(cluster.stateDir('reloader'), 'control.sock');
    const adopter = await cluster.start('reloader', { SESS_VERSION_FILE: versionFile, ROUTEMQ_CONTROL_SOCKET: socket });
    writeFileSync(versionFile, 'v2'); // the same filter (a renamed param): a reload can apply it
    const reload = f.spawn(['reload', '--socket', socket], cluster.env);
    const reloaded = await reload.exited;
    expect({ code: reloaded.code, out: reloaded.code === 0 ? '' : reload.lines.join('\n') }).toEqual({
      code: 0,
      out: '',
    });
    // Then an instance leaves sessions behind, and the reloaded one adopts them in its main process.
    const ids = await orphanWithQueue(cluster, 'left', 20);
    await waitUntil(() => adoptions(adopter).some((l) => l['owner'] === 'left'), 30_000, "'left' adopted");
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 30_000, '20/20 handled');
    const adopted = readSeen(cluster.seenFile).filter((s) => s.pid === adopter.child.pid);
    expect(adopted.length).toBeGreaterThan(0);
    expect(new Set(adopted.map((s) => s.version))).toEqual(new Set(['v2']));
  }, 120_000);

  it('two different apps on one host with default ids: each handles only its own messages', async () => {
    const env = (app: string) => ({
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(f.broker.port),
      ROUTEMQ_ROUTERS_DIR: SESSIONS_ROUTERS,
      ROUTEMQ_STATE_DIR: '.routemq', // the default, relative to each app's own folder
      SEEN_FILE: join(f.dir, `${app}.tsv`),
      SESS_VERSION: app === 'one' ? 'v1' : 'v3',
      SESS_WORKERS: '1',
    });
    const cwdOne = f.mkdir('app-one');
    const cwdTwo = f.mkdir('app-two');
    const one = f.spawn(['start'], env('one'), cwdOne);
    const two = f.spawn(['start'], env('two'), cwdTwo);
    const [s1, s2] = await Promise.all(
      [one, two].map((a) => a.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000)),
    );
    expect(s1?.['clientId']).not.toBe(s2?.['clientId']);
    publisher = await f.connect();
    await publishMany(publisher, 10, (i) => ({ topic: i < 5 ? `sa/one${i}` : `sb/two${i}`, payload: '{}' }));
    await waitUntil(
      () => readSeen(join(f.dir, 'one.tsv')).length >= 5 && readSeen(join(f.dir, 'two.tsv')).length >= 5,
      30_000,
      'both apps handled theirs',
    );
    expect(
      readSeen(join(f.dir, 'one.tsv'))
        .map((s) => s.id)
        .sort(),
    ).toEqual(['one0', 'one1', 'one2', 'one3', 'one4']);
    expect(
      readSeen(join(f.dir, 'two.tsv'))
        .map((s) => s.id)
        .sort(),
    ).toEqual(['two5', 'two6', 'two7', 'two8', 'two9']);
    expect([one, two].flatMap((a) => a.logs()).filter((l) => Number(l['level']) >= 50)).toEqual([]);
  }, 120_000);

  it('a second routemq start on the same state directory refuses before connecting, with a code', async () => {
    const cluster = sessionCluster(f);
    await cluster.start('twice');
    const second = f.spawn(['start'], {
      ...cluster.env,
      ROUTEMQ_INSTANCE_ID: 'twice',
      ROUTEMQ_STATE_DIR: cluster.stateDir('twice'),
    });
    expect((await second.exited).code).toBe(1);
    expect(second.lines.join('\n')).toContain('RMQ_ERR_INSTANCE_RUNNING');
    expect(second.logs().some((l) => l['msg'] === 'MQTT connected')).toBe(false);
  }, 60_000);
});
