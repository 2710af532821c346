import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { steadyPublisher } from '../helpers/load.js';
import { connectClient, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import { killAllSpawned, spawnRouteMQ } from '../helpers/spawn-app.js';
import { report, verdict } from '../helpers/checker.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/faults/routers', import.meta.url));

describe('fault suite: a second process with the same client ids', () => {
  let broker: TestBroker;
  let dir: string;
  let publisher: MqttClient | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    dir = mkdtempSync(join(tmpdir(), 'routemq-takeover-'));
  });
  afterEach(async () => {
    await publisher?.endAsync(true);
    await killAllSpawned();
  });
  afterAll(async () => {
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("10. a second process started with a live instance's client ids: it refuses before connecting (the registry shows them live), no kick, nothing lost", async () => {
    const startedAt = Date.now();
    const env = {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(broker.port),
      // The same prefix and instance id: every client id of the second process clashes with the first's.
      MQTT_CLIENT_ID: uniqueName('twin'),
      ROUTEMQ_INSTANCE_ID: 'same-host',
      MQTT_GROUP_NAME: uniqueName('g'),
      ROUTEMQ_ROUTERS_DIR: ROUTERS,
      ROUTEMQ_CONTROL_SOCKET: 'none',
      ROUTEMQ_RESTART_MAX_MS: '60000',
      MQTT_RECONNECT_MIN_MS: '100',
      MQTT_RECONNECT_MAX_MS: '500',
      FAULTS_WORKERS: '1',
      SEEN_FILE: join(dir, 'seen.txt'),
    };
    const first = spawnRouteMQ(['start'], env);
    await first.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    publisher = await connectClient(broker.url);
    const load = steadyPublisher(publisher, { topic: (id) => `fa/${id}`, ratePerSec: 200, total: 3000 });
    await waitUntil(() => readSeen(env.SEEN_FILE).length >= 500, 20_000, '500 deliveries');
    // Another state directory, as on another host: the instance lock cannot see the first, the registry can.
    const second = spawnRouteMQ(['start'], { ...env, ROUTEMQ_STATE_DIR: join(dir, 'other-host') });
    const secondExit = await second.exited;
    await load.done;
    await waitUntil(() => verdict(load.acked, readSeen(env.SEEN_FILE)).lost.length === 0, 30_000, 'every id handled');
    const v = verdict(load.acked, readSeen(env.SEEN_FILE));
    report('10-client-id-clash', v, startedAt);
    expect(v.lost).toEqual([]);
    // The second refused with a code and a non-zero exit, before any of its connections took a session over.
    expect(secondExit.code).toBe(1);
    expect(second.lines.join('\n')).toContain('RMQ_ERR_INSTANCE_ID_IN_USE');
    expect(second.logs().some((l) => l['msg'] === 'MQTT connected')).toBe(false);
    expect(first.logs().filter((l) => l['msg'] === 'MQTT connection lost')).toEqual([]);
    expect(first.logs().filter((l) => l['code'] === 'RMQ_ERR_MQTT_SESSION_TAKEN_OVER')).toEqual([]);
  }, 120_000);
});
