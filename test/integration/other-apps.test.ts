import { describe, expect, it } from 'vitest';
import { runDoctor } from '../helpers/doctor.js';
import { useFixture } from '../helpers/fixture.js';
import { sessionCluster } from '../helpers/sessions.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

const CODE = 'RMQ_ERR_OTHER_APP_SESSIONS';

/** The start-up check's last line (debug): it has read the other apps' records. */
const checked = (app: SpawnedApp): Promise<Record<string, unknown>> =>
  app.waitForLog((l) => l['msg'] === "other apps' sessions checked", 30_000);

const warnings = (app: SpawnedApp): Record<string, unknown>[] => app.logs().filter((l) => l['code'] === CODE);

// Two apps (two ROUTEMQ_APP_NAMEs) with one MQTT_GROUP_NAME and one shared filter are one $share rotation, but each
// reads (and adopts from) only its own app's registry: a stopped app's sessions keep their turns, unseen.
describe("sessions of another app in this app's $share rotation", () => {
  const f = useFixture();

  it("app B warns at start and doctor fails about stopped app A's sessions on B's group and filter; another filter or group stays quiet", async () => {
    const a = sessionCluster(f, { SESS_WORKERS: '2' });
    const group = a.env.MQTT_GROUP_NAME;
    const appA = await a.start('a-1');
    // A graceful stop keeps the persistent sessions, subscribed: they stay in the rotation, away.
    expect((await appA.stop()).code).toBe(0);
    const aWorkers = [0, 1].map((s) => `${a.env.MQTT_CLIENT_ID}-a-1-sa-any-${s}-${a.saTag}`).sort();

    // B: another app name and client id prefix, the same group and route (shared 'sa/{id}', so $share/<group>/sa/+).
    const b = sessionCluster(f, { MQTT_GROUP_NAME: group, SESS_WORKERS: '1' });
    expect(b.env.ROUTEMQ_APP_NAME).not.toBe(a.env.ROUTEMQ_APP_NAME);
    const appB = await b.start('b-1');
    const warning = await appB.waitForLog((l) => l['code'] === CODE, 30_000);
    expect(warning['level']).toBe(40); // pino's warn
    expect(warning['otherApp']).toBe(a.env.ROUTEMQ_APP_NAME);
    expect(warning['group']).toBe(group);
    expect(warning['filters']).toEqual([`$share/${group}/sa/+`]);
    // A's main session subscribes to nothing (A has no direct route), so only its two worker sessions share it.
    expect(warning['clientIds']).toEqual(aWorkers);
    expect(warning['sessionCount']).toBe(2);
    expect(warning['liveInstances']).toEqual([]);
    const sessions = warning['sessions'] as { clientId: string; instance: string; owner: string }[];
    expect(sessions.map((s) => [s.clientId, s.instance, s.owner])).toEqual(aWorkers.map((id) => [id, 'a-1', 'away']));
    const fix = warning['fix'] as string[];
    for (const id of aWorkers)
      expect(fix).toContain(
        `ROUTEMQ_APP_NAME=${a.env.ROUTEMQ_APP_NAME} routemq sessions adopt ${id}   # or: sessions end ${id}`,
      );
    expect(String(warning['msg'])).toContain('lost when the sessions expire');
    // One warning for the one other app, and the app serves regardless.
    expect(warnings(appB)).toHaveLength(1);
    expect(appB.logs().some((l) => l['msg'] === 'RouteMQ is serving')).toBe(true);

    const report = await runDoctor(b.env);
    const row = report.checks.find((c) => c.check === `other apps' sessions: ${a.env.ROUTEMQ_APP_NAME}`);
    // A's sessions are away and no instance of A runs: nobody will ever adopt them.
    expect(row?.status).toBe('fail');
    for (const id of aWorkers) expect(row?.detail).toContain(`${id} (away)`);
    expect(row?.detail).toContain(`no instance of '${a.env.ROUTEMQ_APP_NAME}' runs`);
    expect(row?.fix).toContain(`ROUTEMQ_APP_NAME=${a.env.ROUTEMQ_APP_NAME} routemq sessions adopt ${aWorkers[0]}`);
    expect(report.code).toBe(1);
    expect((await appB.stop()).code).toBe(0);

    // The command the warning gives, run in B's environment, ends A's sessions; B's next start is quiet.
    for (const id of aWorkers) {
      const end = f.spawn(['sessions', 'end', id], { ...b.env, ROUTEMQ_APP_NAME: a.env.ROUTEMQ_APP_NAME });
      expect((await end.exited).code, end.lines.join('\n')).toBe(0);
    }
    const appB2 = await b.start('b-1', { LOG_LEVEL: 'debug' });
    expect((await checked(appB2))['apps']).toBe(0);
    expect(warnings(appB2)).toEqual([]);
    expect((await appB2.stop()).code).toBe(0);

    // C: the same group, another filter (shared 'sb/{id}'): A's and B's sa/+ sessions are not in its rotation.
    const c = sessionCluster(f, { MQTT_GROUP_NAME: group, SESS_VERSION: 'v3', SESS_WORKERS: '1', LOG_LEVEL: 'debug' });
    const appC = await c.start('c-1');
    const cDone = await checked(appC);
    expect(cDone['outcome']).toBe('complete');
    expect(cDone['apps']).toBe(0);
    // A's two sessions and B's main and worker sessions were read (with their instance records), and skipped.
    expect(cDone['records']).toBeGreaterThanOrEqual(5);
    expect(warnings(appC)).toEqual([]);
    const cReport = await runDoctor(c.env);
    expect(cReport.checks.find((x) => x.check === "other apps' sessions")?.status).toBe('pass');
    expect(cReport.checks.filter((x) => x.check.startsWith("other apps' sessions:"))).toEqual([]);
    expect((await appC.stop()).code).toBe(0);

    // D: the same filter in another group: another rotation, another registry.
    const d = sessionCluster(f, { SESS_WORKERS: '1', LOG_LEVEL: 'debug' });
    expect(d.env.MQTT_GROUP_NAME).not.toBe(group);
    const appD = await d.start('d-1');
    const dDone = await checked(appD);
    expect(dDone['outcome']).toBe('complete');
    expect(dDone['apps']).toBe(0);
    expect(warnings(appD)).toEqual([]);
    expect((await appD.stop()).code).toBe(0);
  }, 180_000);
});
