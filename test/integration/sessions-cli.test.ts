import { describe, expect, it } from 'vitest';
import { loadConfigSubset } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/logger.js';
import { RegistrySnapshot } from '../../src/sessions/registry-snapshot.js';
import { verdict } from '../helpers/checker.js';
import { publishMany, waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import { brokerHasSession, sessionCluster } from '../helpers/sessions.js';
import { spawnRouteMQ } from '../helpers/spawn-app.js';
import { useFixture } from '../helpers/fixture.js';

interface Entry {
  clientId: string;
  instance: string;
  pool: string;
  slot: number;
  state: string;
  ageS: number | null;
  deploy: string;
  filters: string[];
  changedAt: number;
  adoptedBy: string | null;
}

interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout and stderr, line by line. */
  output: string;
}

/** Run `routemq sessions <args>` to the end. */
async function sessionsCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  const app = spawnRouteMQ(['sessions', ...args], env);
  let stdout = '';
  app.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const closed = new Promise<void>((resolve) => app.child.once('close', () => resolve()));
  const { code } = await app.exited;
  await closed;
  return { code, stdout, output: app.lines.join('\n') };
}

async function ls(env: Record<string, string>): Promise<Entry[]> {
  const result = await sessionsCli(['ls', '--json'], env);
  expect(result.code, result.output).toBe(0);
  const parsed = JSON.parse(result.stdout) as { app: string; group: string; sessions: Entry[] };
  expect(parsed.app).toBe(env['ROUTEMQ_APP_NAME']);
  expect(parsed.group).toBe(env['MQTT_GROUP_NAME']);
  return parsed.sessions;
}

// `routemq sessions` reads and acts on the session registry from the broker alone, with no app running.
describe('routemq sessions', () => {
  const f = useFixture();

  it('ls and /status list the live sessions of a running app, and ls shows them away after it stops', async () => {
    // A long grace: "away" must not turn "orphaned" on a slow machine.
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '3600' });
    const app = await cluster.start('pod-l', { HEALTH_HTTP_ENABLED: 'true', HEALTH_HTTP_PORT: '0' });
    const prefix = `${cluster.env.MQTT_CLIENT_ID}-pod-l`;
    const ids = [`${prefix}-main`, `${prefix}-sa-any-0-${cluster.saTag}`, `${prefix}-sa-any-1-${cluster.saTag}`];

    // The records follow the first "serving" line: wait for them.
    let live: Entry[] = [];
    await waitUntil(
      async () => (live = await ls(cluster.env)).filter((s) => s.state === 'live').length === 3,
      60_000,
      'three live sessions in ls',
    );
    expect(live.map((s) => s.clientId).sort()).toEqual(ids);
    for (const s of live) {
      expect(s.instance).toBe('pod-l');
      expect(typeof s.slot).toBe('number');
      expect(typeof s.ageS).toBe('number');
      expect(typeof s.changedAt).toBe('number');
      expect(s.deploy).toMatch(/^[0-9a-f]{12}$/);
      expect(s.adoptedBy).toBeNull();
    }
    expect(live.find((s) => s.pool === 'sa-any' && s.slot === 1)?.filters).toEqual([
      `$share/${cluster.env.MQTT_GROUP_NAME}/sa/+`,
    ]);
    expect(live.find((s) => s.clientId === ids[0])?.pool).toBe('main');

    const table = await sessionsCli(['ls'], cluster.env);
    expect(table.code, table.output).toBe(0);
    expect(table.stdout).toMatch(/CLIENT ID\s+INSTANCE\s+POOL\s+STATE\s+AGE\s+DEPLOY/);
    for (const id of ids) expect(table.stdout).toMatch(new RegExp(`${id}\\s+pod-l\\s+\\S+\\s+live\\s`));

    // /status carries the same sessions, from the running instance's own view.
    const health = await app.waitForLog((l) => typeof l['status'] === 'string');
    const status = (await (await fetch(String(health['status']))).json()) as { sessions?: Entry[] };
    expect(status.sessions?.map((s) => [s.clientId, s.state, s.instance]).sort()).toEqual(
      ids.map((id) => [id, 'live', 'pod-l']),
    );
    expect(status.sessions?.every((s) => typeof s.ageS === 'number' && s.deploy === live[0]?.deploy)).toBe(true);

    expect((await app.stop()).code).toBe(0);
    const away = await ls(cluster.env);
    expect(away.map((s) => [s.clientId, s.state]).sort()).toEqual(ids.map((id) => [id, 'away']));
    // A graceful stop says when: the age counts from it.
    expect(away.every((s) => typeof s.ageS === 'number')).toBe(true);
  }, 180_000);

  it('adopt --dry-run changes nothing; adopt handles what an orphaned session holds, each id once', async () => {
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '1' });
    const app = await cluster.start('pod-a');
    const prefix = `${cluster.env.MQTT_CLIENT_ID}-pod-a`;
    await waitUntil(async () => (await ls(cluster.env)).length === 3, 60_000, 'three records');
    expect((await app.stop()).code).toBe(0);
    // Nothing runs now: what is published waits in pod-a's two worker sessions.
    const publisher = await f.connect();
    const ids = Array.from({ length: 40 }, (_, i) => `a${i}`);
    await publishMany(publisher, ids.length, (i) => ({ topic: `sa/${ids[i]}`, payload: '{}' }));
    await publisher.endAsync();
    await waitUntil(
      async () => (await ls(cluster.env)).every((s) => s.state === 'orphaned'),
      30_000,
      'orphaned after the grace',
    );

    const before = await ls(cluster.env);
    const dry = await sessionsCli(['adopt', '--dry-run', `${prefix}-sa-any-0-${cluster.saTag}`], cluster.env);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toContain(`dry run: would adopt ${prefix}-sa-any-0-${cluster.saTag}`);
    expect(readSeen(cluster.seenFile)).toEqual([]);
    const after = await ls(cluster.env);
    expect(after.map(({ ageS: _a, ...s }) => s)).toEqual(before.map(({ ageS: _a, ...s }) => s));

    const reports: { result: { outcome: string; handled: number } }[] = [];
    for (const slot of [0, 1]) {
      const run = await sessionsCli(['adopt', '--json', `${prefix}-sa-any-${slot}-${cluster.saTag}`], cluster.env);
      expect(run.code, run.output).toBe(0);
      reports.push(JSON.parse(run.stdout) as (typeof reports)[number]);
    }
    expect(reports.map((r) => r.result.outcome)).toEqual(['ended', 'ended']);
    const seen = readSeen(cluster.seenFile);
    const v = verdict(ids, seen);
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    expect(v.duplicated).toEqual([]);
    expect(reports.reduce((n, r) => n + r.result.handled, 0)).toBe(40);

    // The adopted sessions are gone from the registry and from the broker; only the main session is left.
    expect((await ls(cluster.env)).map((s) => s.clientId)).toEqual([`${prefix}-main`]);
    expect(await brokerHasSession(f.broker.url, `${prefix}-sa-any-0-${cluster.saTag}`)).toBe(false);
    expect(await brokerHasSession(f.broker.url, `${prefix}-sa-any-1-${cluster.saTag}`)).toBe(false);
    // The operator's presence (it claimed as an instance of its own) left no record behind.
    const config = loadConfigSubset(['MQTT_BROKER', 'MQTT_PORT', 'MQTT_GROUP_NAME', 'ROUTEMQ_APP_NAME'], {
      env: cluster.env,
      envFile: false,
    });
    const snapshot = await RegistrySnapshot.read(config, silentLogger());
    expect([...snapshot.view.instances.keys()]).toEqual(['pod-a']);
    expect([...snapshot.view.claims.keys()]).toEqual([]);
    await snapshot.close();
  }, 180_000);

  it('end --dry-run changes nothing; end discards an away session unhandled, removes it, and it leaves the group', async () => {
    const cluster = sessionCluster(f, { ROUTEMQ_ORPHAN_GRACE_S: '3600' });
    const app = await cluster.start('pod-e');
    const prefix = `${cluster.env.MQTT_CLIENT_ID}-pod-e`;
    await waitUntil(async () => (await ls(cluster.env)).length === 3, 60_000, 'three records');
    expect((await app.stop()).code).toBe(0);
    const publisher = await f.connect();
    const early = Array.from({ length: 20 }, (_, i) => `e${i}`);
    await publishMany(publisher, early.length, (i) => ({ topic: `sa/${early[i]}`, payload: '{}' }));

    const before = await ls(cluster.env);
    const dry = await sessionsCli(['end', '--dry-run', `${prefix}-sa-any-0-${cluster.saTag}`], cluster.env);
    expect(dry.code, dry.output).toBe(0);
    expect(dry.stdout).toContain(`dry run: would end ${prefix}-sa-any-0-${cluster.saTag}`);
    expect((await ls(cluster.env)).map(({ ageS: _a, ...s }) => s)).toEqual(before.map(({ ageS: _a, ...s }) => s));

    // Slot 0 still holds its share after the dry run: adopting it handles that share.
    const adopted = await sessionsCli(['adopt', '--json', `${prefix}-sa-any-0-${cluster.saTag}`], cluster.env);
    expect(adopted.code, adopted.output).toBe(0);
    const handled = (JSON.parse(adopted.stdout) as { result: { handled: number } }).result.handled;
    expect(handled).toBeGreaterThan(0);
    expect(handled).toBeLessThan(20);

    // Slot 1 is ended: its share is discarded, never handled.
    const ended = await sessionsCli(['end', `${prefix}-sa-any-1-${cluster.saTag}`], cluster.env);
    expect(ended.code, ended.output).toBe(0);
    expect(ended.stdout).toContain(`ended ${prefix}-sa-any-1-${cluster.saTag}`);
    expect((await ls(cluster.env)).map((s) => s.clientId)).toEqual([`${prefix}-main`]);
    expect(await brokerHasSession(f.broker.url, `${prefix}-sa-any-1-${cluster.saTag}`)).toBe(false);
    const seenEarly = readSeen(cluster.seenFile).map((s) => s.id);
    expect(seenEarly).toHaveLength(handled);
    expect(new Set(seenEarly).size).toBe(handled);

    // Nothing of pod-e is left in the group: a new instance gets every later message at once.
    await cluster.start('pod-f');
    const later = Array.from({ length: 20 }, (_, i) => `f${i}`);
    await publishMany(publisher, later.length, (i) => ({ topic: `sa/${later[i]}`, payload: '{}' }));
    await publisher.endAsync();
    await waitUntil(
      () =>
        verdict(
          later,
          readSeen(cluster.seenFile).filter((s) => s.id.startsWith('f')),
        ).lost.length === 0,
      30_000,
      'all 20 later messages handled',
    );
    const v = verdict([...seenEarly, ...later], readSeen(cluster.seenFile));
    expect(v.lost).toEqual([]);
    expect(v.unexpected).toEqual([]);
    expect(v.duplicated).toEqual([]);
  }, 180_000);

  it('refuses a live owner (unless --force) and an unknown client id with a code, and the app keeps serving', async () => {
    const cluster = sessionCluster(f);
    await cluster.start('pod-r');
    const slot0 = `${cluster.env.MQTT_CLIENT_ID}-pod-r-sa-any-0-${cluster.saTag}`;
    await waitUntil(
      async () => (await ls(cluster.env)).filter((s) => s.state === 'live').length === 3,
      60_000,
      'three live sessions',
    );
    for (const args of [
      ['end', slot0],
      ['adopt', slot0],
      ['end', '--dry-run', slot0],
    ]) {
      const run = await sessionsCli(args, cluster.env);
      expect(run.code, run.output).toBe(1);
      expect(run.output).toContain('RMQ_ERR_SESSION_OWNER_LIVE');
    }
    for (const args of [
      ['end', 'nobody-here'],
      ['adopt', 'nobody-here'],
    ]) {
      const run = await sessionsCli(args, cluster.env);
      expect(run.code, run.output).toBe(1);
      expect(run.output).toContain('RMQ_ERR_SESSION_NOT_FOUND');
    }
    const before = await ls(cluster.env);
    expect(before.map((s) => s.state)).toEqual(['live', 'live', 'live']);

    // --force ends it anyway, with a warning; the slot reconnects under a new session and its record comes back.
    const forced = await sessionsCli(['end', '--force', slot0], cluster.env);
    expect(forced.code, forced.output).toBe(0);
    expect(forced.output).toContain(`routemq: warning: session ${slot0} is live`);
    expect(forced.output).toContain('discarded unhandled');
    let after: Entry[] = [];
    await waitUntil(
      async () => (after = await ls(cluster.env)).filter((s) => s.state === 'live').length === 3,
      60_000,
      "slot 0's record published again",
    );
    const changedAt = (list: Entry[]): number | undefined => list.find((s) => s.clientId === slot0)?.changedAt;
    expect(changedAt(after)).toBeGreaterThan(changedAt(before) ?? Infinity);
    const publisher = await f.connect();
    const ids = Array.from({ length: 10 }, (_, i) => `r${i}`);
    await publishMany(publisher, ids.length, (i) => ({ topic: `sa/${ids[i]}`, payload: '{}' }));
    await publisher.endAsync();
    await waitUntil(() => verdict(ids, readSeen(cluster.seenFile)).lost.length === 0, 30_000, '10 handled');
    const v = verdict(ids, readSeen(cluster.seenFile));
    expect(v.unexpected).toEqual([]);
  }, 180_000);
});
