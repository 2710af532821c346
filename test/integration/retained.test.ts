import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { connectClient, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { killAllSpawned, spawnRouteMQ } from '../helpers/spawn-app.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/retained/routers', import.meta.url));

interface Handled {
  readonly route: string;
  readonly pid: number;
  readonly id: string;
  readonly retain: boolean;
  readonly run: number;
}

function readHandled(file: string): Handled[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [route = '', pid = '0', id = '', retain = '0', run = '0'] = line.split('\t');
      return { route, pid: Number(pid), id, retain: retain === '1', run: Number(run) };
    });
}

// A retained message is state, not an event: on a persistent session it runs once, not again at every start
// (every start subscribes again, and MQTT 3.1.1 brokers resend retained messages at every SUBSCRIBE); a shared
// route never runs one (MQTT 5 §4.8.2; Mosquitto 2.0.11 sends it to each member, so each worker would run a
// copy); a main-process route with `retained: 'every-start'` runs it at every start. The app is started three
// times under the same instance id (a restart in place, so every session is resumed) and never republishes.
describe('retained messages across restarts', () => {
  let dir: string;
  let broker: TestBroker | undefined;
  let publisher: MqttClient | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'routemq-retained-'));
  });
  afterEach(async () => {
    await publisher?.endAsync(true);
    publisher = undefined;
    await killAllSpawned();
    await broker?.dispose();
    broker = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of [5, 4] as const) {
    it(`MQTT ${version === 5 ? '5' : '3.1.1'}: once on a main route, never on a shared route (2 workers), at every start with the opt-in, over 3 starts`, async () => {
      broker = await startTestBroker();
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
        ROUTEMQ_ROUTERS_DIR: ROUTERS,
        SEEN_FILE: seenFile,
      };
      publisher = await connectClient(broker.url, { protocolVersion: version });
      const pub = publisher;
      for (const route of ['rm', 're', 'rs']) await pub.publishAsync(`${route}/r1`, '{}', { qos: 1, retain: true });
      const markers: string[] = [];
      const starts: SpawnedApp[] = [];

      for (const run of [1, 2, 3]) {
        if (run === 3) {
          // Published (retained) while the app is down: the sessions queue it as an ordinary message, which runs
          // once at the next start; the retained copy the re-SUBSCRIBE brings must not run it a second time.
          await pub.publishAsync('rm/q', '{}', { qos: 1, retain: true });
          await pub.publishAsync('rs/q', '{}', { qos: 1, retain: true });
        }
        const app = spawnRouteMQ(['start'], { ...env, RETAINED_RUN: String(run) });
        starts.push(app);
        const serving = await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving', 60_000);
        expect(serving['sessionPresent']).toBe(run > 1);
        // A marker on each route, published now, arrives on each connection after the retained copies the
        // SUBSCRIBE brought: once it is handled, so are they. The shared route needs one per worker.
        for (const route of ['rm', 're']) {
          const id = `m${run}`;
          markers.push(`${route}/${id}`);
          await pub.publishAsync(`${route}/${id}`, '{}', { qos: 1 });
        }
        const rsPids = (): Set<number> =>
          new Set(
            readHandled(seenFile)
              .filter((h) => h.route === 'rs' && h.run === run && h.id.startsWith('m'))
              .map((h) => h.pid),
          );
        for (let k = 0; rsPids().size < 2; k++) {
          expect(k).toBeLessThan(20);
          const id = `m${run}-${k}`;
          markers.push(`rs/${id}`);
          await pub.publishAsync(`rs/${id}`, '{}', { qos: 1 });
          await waitUntil(() => readHandled(seenFile).some((h) => h.id === id), 30_000, `marker ${id}`);
        }
        await waitUntil(
          () => markers.every((m) => readHandled(seenFile).some((h) => `${h.route}/${h.id}` === m)),
          30_000,
          `the markers of start ${run}`,
        );
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
      expect(starts).toHaveLength(3);
    }, 240_000);
  }
});
