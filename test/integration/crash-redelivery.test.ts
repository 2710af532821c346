import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { connectClient, publishMany, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { killAllSpawned, spawnRouteMQ } from '../helpers/spawn-app.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/crash/routers', import.meta.url));
const TOTAL = 1000;

describe('at-least-once across a process crash', () => {
  let broker: TestBroker;
  let publisher: MqttClient | undefined;
  let dir: string;

  beforeAll(async () => {
    broker = await startTestBroker();
    dir = mkdtempSync(join(tmpdir(), 'routemq-crash-'));
  });
  afterEach(async () => {
    await publisher?.endAsync();
    await killAllSpawned();
  });
  afterAll(async () => {
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('redelivers the message a handler crashed on to the restarted process, and loses none of 1,000', async () => {
    const seenFile = join(dir, 'seen.txt');
    const env = {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(broker.port),
      MQTT_CLIENT_ID: uniqueName('crash'),
      ROUTEMQ_INSTANCE_ID: 'test',
      ROUTEMQ_ROUTERS_DIR: ROUTERS,
      SEEN_FILE: seenFile,
      CRASH_MARKER: join(dir, 'crashed'),
      CRASH_ON_ID: '500',
      // A control socket of its own: the restart below must clear the one the killed process left behind.
      ROUTEMQ_CONTROL_SOCKET: join(dir, 'control.sock'),
    };
    const first = spawnRouteMQ(['start'], env);
    await first.waitForLog((l) => l['msg'] === 'RouteMQ is serving');

    publisher = await connectClient(broker.url);
    await publishMany(publisher, TOTAL, (i) => ({ topic: `crash/${i}`, payload: JSON.stringify({ i }) }));

    const exit = await first.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(existsSync(env.CRASH_MARKER)).toBe(true);
    const seenBeforeRestart = new Set(readSeen(seenFile));
    expect(seenBeforeRestart.has('500')).toBe(false);

    const second = spawnRouteMQ(['start'], env);
    const ready = await second.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    expect(ready['sessionPresent']).toBe(true);

    await waitUntil(() => new Set(readSeen(seenFile)).size >= TOTAL, 30_000, 'every id to be handled');
    const seen = new Set(readSeen(seenFile));
    const missing = Array.from({ length: TOTAL }, (_, i) => String(i)).filter((id) => !seen.has(id));
    expect(missing).toEqual([]);
    expect(seen.has('500')).toBe(true);

    const stopped = await second.stop();
    expect(stopped.code).toBe(0);
  });
});

function readSeen(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}
