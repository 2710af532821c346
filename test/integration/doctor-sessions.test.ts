import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { CANARY_EXPIRY_S } from '../../src/doctor/canary.js';
import { subscriptionSetTag } from '../../src/consumer/client-ids.js';
import { runDoctor } from '../helpers/doctor.js';
import { useFixture } from '../helpers/fixture.js';
import { connectClient, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { RETAINED_ROUTERS, flushMarkers, readHandled } from '../helpers/retained-app.js';

/** The client-id tag of the retained app's pool `rs-any` (it subscribes to `$share/<group>/rs/+`). */
const rsTag = (env: { MQTT_GROUP_NAME: string }): string => subscriptionSetTag([`$share/${env.MQTT_GROUP_NAME}/rs/+`]);

/**
 * Resolve once the wall clock has passed `at`. Not a guess at how long something takes: message expiry and the
 * orphan grace are defined by the clock, and waiting longer than the bound cannot make the test pass wrongly.
 */
async function clockPast(at: number): Promise<void> {
  while (Date.now() <= at) await new Promise((r) => setTimeout(r, Math.max(10, at - Date.now() + 1)));
}

// `routemq doctor` run while the app is stopped (its persistent sessions exist and subscribe to the routes' topics):
// its canaries must not wait in those sessions and run the app's handlers, or land on its dead-letter topic, at
// the next start. It lists the stopped app's sessions from the session registry, and warns about the broker-restart
// gap of shared routes.
describe('routemq doctor and a stopped app', () => {
  // A fresh broker per test; the fixture stops it, the apps and the clients after the test.
  const f = useFixture({ broker: false });
  const clients = { push: (c: MqttClient): void => f.defer(() => c.endAsync(true)) };

  for (const version of [5, 4] as const) {
    it(`MQTT ${version === 5 ? '5' : '3.1.1'}: no canary reaches a later start; the stopped app's sessions are listed away, then orphaned`, async () => {
      const broker = await f.startBroker();
      const dir = f.dir;
      const seenFile = join(dir, `${uniqueName('seen')}.tsv`);
      const dlqPrefix = `${uniqueName('dlq')}/dead`;
      const env = {
        MQTT_BROKER: '127.0.0.1',
        MQTT_PORT: String(broker.port),
        MQTT_PROTOCOL_VERSION: String(version),
        MQTT_CLIENT_ID: uniqueName('doc'),
        MQTT_GROUP_NAME: uniqueName('g'),
        ROUTEMQ_APP_NAME: uniqueName('app'),
        ROUTEMQ_DLQ_PREFIX: dlqPrefix,
        ROUTEMQ_ROUTERS_DIR: RETAINED_ROUTERS,
      };
      const appEnv = {
        ...env,
        ROUTEMQ_INSTANCE_ID: 'doc-1',
        ROUTEMQ_STATE_DIR: join(dir, uniqueName('state')),
        SEEN_FILE: seenFile,
      };
      const observer = await connectClient(broker.url);
      clients.push(observer);
      const deadLetters: string[] = [];
      observer.on('message', (topic) => deadLetters.push(topic));
      await observer.subscribeAsync(`${dlqPrefix}/#`, { qos: 1 });
      const publisher = await connectClient(broker.url, { protocolVersion: version });
      clients.push(publisher);

      const first = f.spawn(['start'], { ...appEnv, RETAINED_RUN: '1' });
      await first.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000);
      const markers = await flushMarkers(publisher, seenFile, 1);
      expect((await first.stop()).code).toBe(0);
      const stoppedAt = Date.now();

      // The app is stopped: its main session and both worker sessions are kept, and subscribed.
      // A grace longer than any test: stopped a moment ago, the sessions are away (not yet orphaned).
      const report = await runDoctor({ ...env, ROUTEMQ_ORPHAN_GRACE_S: '3600' });
      expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(report.code).toBe(0);
      expect(
        report.checks.filter((c) => c.check.startsWith('read ')).map((c) => [c.check, c.status, c.detail]),
      ).toEqual([
        ['read rm/{id}', 'pass', 'canary on rm/routemq-doctor delivered'],
        ['read re/{id}', 'pass', 'canary on re/routemq-doctor delivered'],
        ['read rs/{id}', 'pass', 'canary on rs/routemq-doctor delivered'],
      ]);
      expect(report.checks.find((c) => c.check === '$share load balancing')?.status).toBe('pass');

      const summary = report.checks.find((c) => c.check === 'sessions');
      expect(summary?.status).toBe('warn');
      expect(summary?.detail).toContain('3 sessions recorded');
      expect(summary?.detail).toContain('0 in use, 3 away, 0 orphaned; live instances: none');
      const rows = report.checks.filter((c) => c.check.startsWith('session '));
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        expect(row.status).toBe('warn');
        expect(row.detail).toMatch(/^away: owner doc-1 stopped \d+s ago; pool (main|rs-any) slot \d/);
      }
      expect(rows.map((r) => r.check).sort()).toEqual(
        [
          `session ${env.MQTT_CLIENT_ID}-doc-1-main`,
          ...[0, 1].map((s) => `session ${env.MQTT_CLIENT_ID}-doc-1-rs-any-${s}-${rsTag(env)}`),
        ].sort(),
      );

      const gap = report.checks.find((c) => c.check === 'broker restart gap');
      expect(gap?.status).toBe('warn');
      expect(gap?.detail).toContain('rs/+');
      expect(gap?.fix).toContain('0x10');

      // With a grace of 1 s, once the app has been stopped longer than that, the same sessions are orphaned.
      await clockPast(stoppedAt + 1_500);
      const later = await runDoctor({ ...env, ROUTEMQ_ORPHAN_GRACE_S: '1' });
      const doctorDoneAt = Date.now();
      expect(later.checks.find((c) => c.check === 'sessions')?.detail).toContain('0 in use, 0 away, 3 orphaned');
      for (const row of later.checks.filter((c) => c.check.startsWith('session '))) {
        expect(row.detail).toMatch(/^orphaned: owner doc-1 stopped \d+s ago/);
      }

      // MQTT 5 canaries expire in the stopped sessions' queues (Mosquitto counts whole seconds: gone within
      // CANARY_EXPIRY_S + 1 s of the last doctor run's last publish). MQTT 3.1.1 canaries are QoS 0, never queued.
      if (version === 5) await clockPast(doctorDoneAt + (CANARY_EXPIRY_S + 2) * 1000);
      // The doctor's own dead-letter-topic canaries (published and read back while it ran) are not the app's.
      const deadLettersBefore = deadLetters.length;
      const second = f.spawn(['start'], { ...appEnv, RETAINED_RUN: '2' });
      const serving = await second.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000);
      // The sessions were resumed, so whatever they had queued was delivered before the markers.
      expect(serving['sessionPresent']).toBe(true);
      // A worker's lines reach the parent's output through a pipe of their own, possibly after the parent's.
      await waitUntil(
        () => second.logs().filter((l) => l['msg'] === 'worker ready').length >= 2,
        30_000,
        'both workers',
      );
      const workers = second.logs().filter((l) => l['msg'] === 'worker ready');
      expect(workers.map((l) => l['sessionPresent'])).toEqual([true, true]);
      markers.push(...(await flushMarkers(publisher, seenFile, 2)));
      expect((await second.stop()).code).toBe(0);

      const handled = readHandled(seenFile);
      expect(handled.filter((h) => h.id.includes('routemq-doctor'))).toEqual([]);
      for (const m of markers)
        expect(
          handled.filter((h) => `${h.route}/${h.id}` === m),
          m,
        ).toHaveLength(1);
      expect(handled).toHaveLength(markers.length);
      expect(deadLetters.slice(deadLettersBefore)).toEqual([]);
    }, 180_000);
  }
});
