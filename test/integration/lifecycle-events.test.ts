import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { LifecycleEvents } from '../../src/events.js';
import { freePort } from '../helpers/broker.js';
import { publishMany, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { collectSse } from '../helpers/sse.js';
import type { SseCollector } from '../helpers/sse.js';
import { useFixture } from '../helpers/fixture.js';

const EVENTS_ROUTERS = fileURLToPath(new URL('../fixtures/apps/events/routers', import.meta.url));

describe('lifecycle events keep one name end to end', () => {
  const f = useFixture();
  let publisher: MqttClient | undefined;
  let sse: SseCollector | undefined;

  afterEach(() => {
    sse?.close();
  });

  it("shows a worker's dead letter on /events as message.dead_lettered, with the worker and the failure", async () => {
    const port = await freePort();
    const app = f.spawn(['start'], {
      MQTT_BROKER: '127.0.0.1',
      MQTT_PORT: String(f.broker.port),
      MQTT_CLIENT_ID: uniqueName('ev'),
      MQTT_GROUP_NAME: uniqueName('g'),
      ROUTEMQ_INSTANCE_ID: 'test',
      ROUTEMQ_ROUTERS_DIR: EVENTS_ROUTERS,
      HEALTH_HTTP_ENABLED: 'true',
      HEALTH_HTTP_PORT: String(port),
    });
    await app.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    sse = await collectSse(`http://127.0.0.1:${port}/events`);
    const collected = sse;
    const deadLetters = (): LifecycleEvents['message.dead_lettered'][] =>
      collected.events
        .filter((e) => e.event === 'lifecycle' && (e.data as { type: string }).type === 'message.dead_lettered')
        .map((e) => (e.data as { data: LifecycleEvents['message.dead_lettered'] }).data);

    const ids = ['d0', 'd1', 'd2', 'd3', 'd4'];
    publisher = await f.connect();
    await publishMany(publisher, ids.length, (i) => ({ topic: `ev/${ids[i]}`, payload: '{}' }));
    await waitUntil(() => deadLetters().length >= ids.length, 15_000, `${ids.length} message.dead_lettered events`);

    const events = deadLetters();
    const topics = events.map((e) => e.topic).sort();
    expect(topics).toEqual(ids.map((id) => `ev/${id}`)); // none lost, none twice, none unexpected
    for (const event of events) {
      expect(event).toMatchObject({
        pool: 'ev-any',
        slot: 0,
        workerId: 'ev-any-0',
        pid: expect.any(Number) as unknown,
        route: 'ev/{id}',
        dlq: 'routemq/dlq/ev/{id}',
        code: 'RMQ_ERR_HANDLER_FAILED',
        attempts: 1,
      });
    }
    // No other spelling of it reached the stream.
    const types = new Set(
      collected.events.filter((e) => e.event === 'lifecycle').map((e) => (e.data as { type: string }).type),
    );
    expect([...types].filter((t) => !/^[a-z]+\.[a-z_]+$/.test(t))).toEqual([]);
    expect((await app.stop()).code).toBe(0);
  });
});
