import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetterEnvelope } from '../../src/index.js';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { connectClient, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';
import { killAllSpawned, spawnRouteMQ } from '../helpers/spawn-app.js';
import { connectRedis, dropKeys } from '../helpers/redis.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/ratelimit/routers', import.meta.url));

// A real app: 2 workers, limits counted in the real Redis on 127.0.0.1:6379.
describe('rate-limited routes in a worker pool', () => {
  let broker: TestBroker;
  let dir: string;
  let redis: Redis;
  let client: MqttClient | undefined;
  const prefix = `${uniqueName('rmqrla')}:`;

  beforeAll(async () => {
    broker = await startTestBroker();
    dir = mkdtempSync(join(tmpdir(), 'routemq-rla-'));
    redis = await connectRedis();
  });
  afterEach(async () => {
    await client?.endAsync();
    client = undefined;
    await killAllSpawned();
  });
  afterAll(async () => {
    await dropKeys(redis, prefix);
    await redis.quit();
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds one limit over both workers, delays or dead-letters what is over it, and loses nothing', async () => {
    const seenFile = join(dir, 'seen.txt');
    const app = spawnRouteMQ(['start'], {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(broker.port),
      MQTT_CLIENT_ID: uniqueName('rla'),
      MQTT_GROUP_NAME: uniqueName('g'),
      ROUTEMQ_ROUTERS_DIR: ROUTERS,
      ROUTEMQ_CONTROL_SOCKET: 'none',
      ENABLE_REDIS: 'true',
      ROUTEMQ_REDIS_PREFIX: prefix,
      RL_MAX: '10',
      RL_WINDOW_MS: '500',
      RD_MAX: '10',
      SEEN_FILE: seenFile,
    });
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    client = await connectClient(broker.url, { clientId: uniqueName('pub') });
    const dead: DeadLetterEnvelope[] = [];
    client.on('message', (_topic, payload) => dead.push(JSON.parse(payload.toString()) as DeadLetterEnvelope));
    await client.subscribeAsync('routemq/dlq/#', { qos: 1 });

    const delayed = Array.from({ length: 60 }, (_, i) => `d${i}`);
    const dropped = Array.from({ length: 30 }, (_, i) => `x${i}`);
    await Promise.all([
      ...delayed.map((id) => client?.publishAsync(`rl/${id}`, '{}', { qos: 1 })),
      ...dropped.map((id) => client?.publishAsync(`rd/${id}`, '{}', { qos: 1 })),
    ]);
    await waitUntil(
      () => readSeen(seenFile).filter((s) => s.route === 'rl').length >= 60 && dead.length >= 20,
      30_000,
      'every delayed message handled and every refused one dead-lettered',
    );
    const seen = readSeen(seenFile);
    const rl = seen.filter((s) => s.route === 'rl');
    const rd = seen.filter((s) => s.route === 'rd');

    // Delay: nothing lost, and both workers together kept to 10 per 500 ms window: 60 messages span ≥ 5 windows.
    expect(check(delayed, rl)).toMatchObject({ lost: [], unexpected: [] });
    expect(new Set(rl.map((s) => s.pid)).size).toBe(2);
    const times = rl.map((s) => Number(s.version)).sort((a, b) => a - b);
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(4 * 500 - 50);

    // Dead letter: exactly 10 handled over both workers, the other 20 in the DLQ at their first try; none lost.
    expect(rd).toHaveLength(10);
    expect(dead).toHaveLength(20);
    for (const envelope of dead) {
      expect(envelope.error.code).toBe('RMQ_ERR_RATE_LIMITED');
      expect(envelope.attempts).toBe(1);
    }
    const deadIds = dead.map((e) => e.topic.split('/')[1] ?? '');
    expect(check(dropped, [...rd, ...deadIds.map((id) => ({ ...rd[0]!, id }))])).toMatchObject({
      lost: [],
      duplicated: [],
      unexpected: [],
    });
    expect((await app.stop()).code).toBe(0);
  }, 90_000);
});
