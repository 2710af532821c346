import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { connectClient, uniqueName } from '../helpers/mqtt.js';
import { RETAINED_ROUTERS, flushMarkers, readHandled } from '../helpers/retained-app.js';

// A retained message is state, not an event: on a persistent session it runs once, not again at every start
// (every start subscribes again, and MQTT 3.1.1 brokers resend retained messages at every SUBSCRIBE); a shared
// route never runs one (MQTT 5 §4.8.2; Mosquitto 2.0.11 sends it to each member, so each worker would run a
// copy); a main-process route with `retained: 'every-start'` runs it at every start. The app is started three
// times under the same instance id (a restart in place, so every session is resumed) and never republishes.
describe('retained messages across restarts', () => {
  // A fresh broker per test (its retained store must start empty); the fixture stops it after the test.
  const f = useFixture({ broker: false });
  let publisher: MqttClient | undefined;

  for (const version of [5, 4] as const) {
    it(`MQTT ${version === 5 ? '5' : '3.1.1'}: once on a main route, never on a shared route (2 workers), at every start with the opt-in, over 3 starts`, async () => {
      const broker = await f.startBroker();
      const dir = f.dir;
      const seenFile = join(dir, `${uniqueName('seen')}.tsv`);
      const env = {
        MQTT_BROKER: '127.0.0.1',
        MQTT_PORT: String(broker.port),
        MQTT_PROTOCOL_VERSION: String(version),
        MQTT_CLIENT_ID: uniqueName('ret'),
        MQTT_GROUP_NAME: uniqueName('g'),
        ROUTEMQ_APP_NAME: uniqueName('app'),
        ROUTEMQ_INSTANCE_ID: 'ret-1',
        ROUTEMQ_STATE_DIR: join(dir, uniqueName('state')),
        ROUTEMQ_ROUTERS_DIR: RETAINED_ROUTERS,
        SEEN_FILE: seenFile,
      };
      publisher = await connectClient(broker.url, { protocolVersion: version });
      const client = publisher;
      f.defer(() => client.endAsync(true));
      const pub = publisher;
      for (const route of ['rm', 're', 'rs']) await pub.publishAsync(`${route}/r1`, '{}', { qos: 1, retain: true });
      const markers: string[] = [];

      for (const run of [1, 2, 3]) {
        if (run === 3) {
          // Published (retained) while the app is down: the sessions queue it as an ordinary message, which runs
          // once at the next start; the retained copy the re-SUBSCRIBE brings must not run it a second time.
          await pub.publishAsync('rm/q', '{}', { qos: 1, retain: true });
          await pub.publishAsync('rs/q', '{}', { qos: 1, retain: true });
        }
        const app = f.spawn(['start'], { ...env, RETAINED_RUN: String(run) });
        const serving = await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000);
        expect(serving['sessionPresent']).toBe(run > 1);
        markers.push(...(await flushMarkers(pub, seenFile, run)));
        expect((await app.stop()).code).toBe(0);
      }

      const handled = readHandled(seenFile);
      const runsOf = (key: string): number[] => handled.filter((h) => `${h.route}/${h.id}` === key).map((h) => h.run);
      // Every marker exactly once, and nothing but markers and the retained messages.
      for (const m of markers) expect(runsOf(m), m).toHaveLength(1);
      const known = new Set([...markers, 'rm/r1', 're/r1', 'rs/r1', 'rm/q', 'rs/q']);
      expect(handled.filter((h) => !known.has(`${h.route}/${h.id}`))).toEqual([]);

      expect(runsOf('rm/r1')).toEqual([1]);
      expect(runsOf('re/r1')).toEqual([1, 2, 3]);
      expect(runsOf('rs/r1')).toEqual([]);
      expect(runsOf('rm/q')).toEqual([3]);
      expect(runsOf('rs/q')).toEqual([3]);
      // Both workers of the shared route subscribed at each start (each saw a marker), and neither ran a copy.
      expect(handled.filter((h) => h.route === 'rs' && h.retain)).toEqual([]);
      // The message published while the app was down came as an ordinary message of the session's queue.
      expect(handled.filter((h) => h.id === 'q').map((h) => h.retain)).toEqual([false, false]);
    }, 240_000);
  }
});
