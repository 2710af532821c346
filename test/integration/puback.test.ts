import type { IPublishPacket, MqttClient } from 'mqtt';
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import type { ConnectionOptions } from '../../src/mqtt/connection-options.js';
import { useFixture } from '../helpers/fixture.js';
import { publishMany, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

// The connection writes QoS1 PUBACKs itself, batched per turn of the event loop (src/mqtt/puback-batch.ts). These
// tests let a real Mosquitto judge the bytes: a session resumed after the acks must get nothing back, and acks of a
// dropped connection must not count.
describe('PUBACKs written by MqttConnection', () => {
  const f = useFixture();
  let publisher: MqttClient;
  beforeAll(async () => {
    publisher = await f.connect();
  });

  function connect(
    clientId: string,
    protocolVersion: 4 | 5,
    sink: (packet: IPublishPacket, epoch: number) => void,
    port = f.broker.port,
  ): MqttConnection {
    const options: ConnectionOptions = {
      url: `mqtt://127.0.0.1:${port}`,
      client: {
        clientId,
        protocolVersion,
        clean: false,
        keepalive: 30,
        ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 60, receiveMaximum: 100 } } : {}),
      },
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      connectTimeoutMs: 5_000,
      logger: silentLogger(),
    };
    const connection = new MqttConnection(options, (packet, epoch) => {
      sink(packet, epoch);
      return undefined;
    });
    f.defer(() => connection.stop());
    return connection;
  }

  /** Resume the session and return what the broker still held for it (everything before a fresh marker message). */
  async function leftInSession(clientId: string, protocolVersion: 4 | 5, topic: string): Promise<string[]> {
    const seen: string[] = [];
    const connection = connect(clientId, protocolVersion, (packet, epoch) => {
      seen.push(packet.payload.toString());
      connection.ack(packet, epoch);
    });
    await connection.start();
    await publisher.publishAsync(topic, 'marker', { qos: 1 });
    await waitUntil(() => seen.includes('marker'), 10_000, 'the marker message');
    return seen.slice(0, seen.indexOf('marker'));
  }

  it.each([5, 4] as const)(
    'MQTT %s: the broker takes every ack, so a resumed session gets none of 600 messages again',
    async (protocolVersion) => {
      const clientId = uniqueName('puback');
      const topic = uniqueName('puback/t');
      const ids = new Map<string, number>();
      const connection = connect(clientId, protocolVersion, (packet, epoch) => {
        const id = packet.payload.toString();
        ids.set(id, (ids.get(id) ?? 0) + 1);
        expect(connection.ack(packet, epoch)).toBe(true);
      });
      await connection.start();
      await connection.subscribe([{ topic, qos: 1 }]);
      await publishMany(publisher, 600, (i) => ({ topic, payload: String(i) }));
      await waitUntil(() => ids.size === 600, 20_000, '600 messages');
      await connection.stop();
      expect([...ids.values()].every((n) => n === 1)).toBe(true);
      expect(await leftInSession(clientId, protocolVersion, topic)).toEqual([]);
    },
  );

  it('drops the acks of a dropped connection; the broker redelivers those messages to the next one', async () => {
    const proxy = await startTcpProxy(f.broker.port);
    f.defer(() => proxy.close());
    const clientId = uniqueName('puback');
    const topic = uniqueName('puback/t');
    const received: { packet: IPublishPacket; epoch: number }[] = [];
    const connection = connect(clientId, 5, (packet, epoch) => void received.push({ packet, epoch }), proxy.port);
    await connection.start();
    await connection.subscribe([{ topic, qos: 1 }]);
    await publishMany(publisher, 20, (i) => ({ topic, payload: String(i) }));
    await waitUntil(() => received.length === 20, 10_000, '20 messages');
    const reconnected = new Promise<number>((resolve) => connection.once('connect', (epoch) => resolve(epoch)));
    proxy.reset();
    expect(await reconnected).toBe(2);
    await waitUntil(() => received.length === 40, 10_000, '20 redelivered messages');
    const [first, again] = [received.slice(0, 20), received.slice(20)];
    expect(first.every((r) => r.epoch === 1)).toBe(true);
    expect(again.every((r) => r.epoch === 2 && r.packet.dup)).toBe(true);
    expect(again.map((r) => r.packet.payload.toString())).toEqual(first.map((r) => r.packet.payload.toString()));
    // Acks of epoch 1 are stale: their packet ids may name other messages now.
    expect(first.map((r) => connection.ack(r.packet, r.epoch))).toEqual(Array.from({ length: 20 }, () => false));
    expect(again.map((r) => connection.ack(r.packet, r.epoch))).toEqual(Array.from({ length: 20 }, () => true));
    await connection.stop();
    expect(await leftInSession(clientId, 5, topic)).toEqual([]);
  });
});
