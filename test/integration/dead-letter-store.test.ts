import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { SpoolStore } from '../../src/dlq/spool-store.js';
import { deadLetterPayload, originalProperties } from '../../src/message/dead-letter.js';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import type { RouteMQApp } from '../../src/runtime/app.js';
import { startTestApp } from '../helpers/app.js';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { collect, connectClient, uniqueName, waitUntil } from '../helpers/mqtt.js';
import { connectRedis, dropKeys } from '../helpers/redis.js';

/** Every dead letter the spool of `stateDir` holds, read as another process (the CLI) would. */
async function spooled(stateDir: string): Promise<DeadLetterEnvelope[]> {
  const store = new SpoolStore({ dir: join(stateDir, 'dlq'), maxEntries: 1e6, maxBytes: 1e9, readOnly: true });
  await store.open();
  const list = await store.list();
  const all = await Promise.all(list.map((s) => store.get(s.id)));
  await store.close();
  return all.filter((e): e is DeadLetterEnvelope => e !== undefined);
}

describe('dead letters are durable before the ack', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(
    brokerLines: string[],
    env: Record<string, string>,
  ): Promise<{ broker: TestBroker; stateDir: string; client: MqttClient; env: Record<string, string> }> {
    const stateDir = mkdtempSync(join(tmpdir(), 'routemq-dlq-state-'));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const broker = await startTestBroker(brokerLines);
    cleanups.push(() => broker.dispose());
    const client = await connectClient(broker.url);
    cleanups.push(() => client.endAsync());
    return { broker, stateDir, client, env: { ROUTEMQ_STATE_DIR: stateDir, ROUTEMQ_CONTROL_SOCKET: 'none', ...env } };
  }

  async function app(
    broker: TestBroker,
    env: Record<string, string>,
    register: Parameters<typeof startTestApp>[1],
  ): Promise<RouteMQApp> {
    const started = await startTestApp(broker, register, env);
    cleanups.push(() => started.stop());
    return started;
  }

  it('keeps dead letters nobody subscribed to, binary bytes exactly, across an app restart', async () => {
    const { broker, stateDir, client, env } = await setup([], { ROUTEMQ_MAX_ATTEMPTS: '1' });
    const first = await app(broker, env, (router) =>
      router.on('bin/{id}', () => {
        throw new Error('no schema, and the handler cannot read it');
      }),
    );
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x10]);
    await client.publishAsync('bin/b', binary, { qos: 1 });
    await client.publishAsync('bin/t', '{"text":true}', { qos: 1 });
    await waitUntil(() => first.deadLetters?.status().store.entries === 2, 15_000, 'two stored dead letters');
    await first.stop();

    const second = await app(broker, env, (router) => router.on('bin/{id}', () => undefined));
    const listed = await second.deadLetters?.store.list();
    expect(listed?.map((s) => s.topic).sort()).toEqual(['bin/b', 'bin/t']);
    const envelopes = await spooled(stateDir);
    const b = envelopes.find((e) => e.topic === 'bin/b');
    expect(b?.payloadEncoding).toBe('base64');
    expect(b && deadLetterPayload(b).equals(binary)).toBe(true);
    expect(envelopes.find((e) => e.topic === 'bin/t')).toMatchObject({
      payloadEncoding: 'utf8',
      payload: '{"text":true}',
    });
  });

  it.each([4, 5])(
    'acks after a refused dead-letter publish (ACL, MQTT %s): lost 0, no wedge, 3 good messages after 30 refused',
    async (version) => {
      const dir = mkdtempSync(join(tmpdir(), 'routemq-acl-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const acl = join(dir, 'acl');
      writeFileSync(acl, 'topic readwrite acl/#\ntopic read routemq/dlq/#\n');
      // v3.1.1 has no receive maximum: the broker's in-flight window plays its part.
      const { broker, stateDir, client, env } = await setup([`acl_file ${acl}`, 'max_inflight_messages 20'], {
        MQTT_PROTOCOL_VERSION: String(version),
        MQTT_RECEIVE_MAXIMUM: '20',
        ROUTEMQ_MAX_ATTEMPTS: '1',
      });
      const good: string[] = [];
      const started = await app(broker, env, (router) =>
        router.on('acl/{id}', (ctx) => {
          if ((ctx.payload as { fail?: boolean }).fail) throw new Error(`fail ${ctx.params['id']}`);
          good.push(ctx.params['id'] ?? '');
        }),
      );
      const failIds = Array.from({ length: 30 }, (_, i) => `f${i}`);
      for (const id of failIds) await client.publishAsync(`acl/${id}`, '{"fail":true}', { qos: 1 });
      for (const id of ['g1', 'g2', 'g3']) await client.publishAsync(`acl/${id}`, '{}', { qos: 1 });
      await waitUntil(() => good.length === 3, 30_000, 'the 3 good messages');
      await waitUntil(() => started.deadLetters?.status().store.entries === 30, 30_000, '30 stored dead letters');
      expect([...good].sort()).toEqual(['g1', 'g2', 'g3']);
      const topics = (await spooled(stateDir)).map((e) => e.topic).sort();
      expect(topics).toEqual(failIds.map((id) => `acl/${id}`).sort()); // none lost, none twice
      const status = started.status();
      expect(status.mqttConnected).toBe(true);
      if (version === 5) {
        await waitUntil(() => started.deadLetters?.status().refusals[0]?.count === 30, 15_000, '30 refusals counted');
        expect(started.deadLetters?.status().refusals).toEqual([
          expect.objectContaining({ route: 'acl/{id}', reason: 'not-authorised', count: 30 }),
        ]);
      } else {
        // Mosquitto refuses a v3.1.1 publish in silence: only `routemq doctor`'s canary can tell.
        expect(started.deadLetters?.status().refusals).toEqual([]);
      }
      expect(status.ready).toBe(true);
    },
  );

  it("cuts the MQTT copy to the broker's maximum packet size while the store keeps it whole", async () => {
    const { broker, stateDir, client, env } = await setup(['max_packet_size 2000'], { ROUTEMQ_MAX_ATTEMPTS: '1' });
    const dlq = await collect(client, 'routemq/dlq/#');
    const handled: string[] = [];
    const started = await app(broker, env, (router) => {
      router.on('big/{id}', () => {
        throw new Error('too big to handle');
      });
      router.on('fine/{id}', (ctx) => void handled.push(ctx.params['id'] ?? ''));
    });
    const payload = Buffer.alloc(1500, 0x62);
    await client.publishAsync('big/1', payload, { qos: 1 });
    await dlq.waitFor(1);
    const copy = JSON.parse(dlq.messages[0]?.payload.toString() ?? '') as DeadLetterEnvelope;
    expect(copy).toMatchObject({ topic: 'big/1', payloadTruncated: true, payloadBytes: 1500 });
    expect(copy.payload.length).toBeLessThan(1500);
    const [stored] = await spooled(stateDir);
    expect(stored?.payloadTruncated).toBe(false);
    expect(stored && deadLetterPayload(stored).equals(payload)).toBe(true);
    // No disconnect loop: the connection stays and later messages are handled.
    await client.publishAsync('fine/1', '{}', { qos: 1 });
    await waitUntil(() => handled.includes('1'), 10_000, 'a message after the big one');
    expect(started.status().mqttConnected).toBe(true);
    expect(started.deadLetters?.status()).toMatchObject({ refusals: [], truncatedCopies: 1 });
  });

  it('keeps every v5 property of the original in the store and in the MQTT copy', async () => {
    const { broker, stateDir, client, env } = await setup([], { ROUTEMQ_MAX_ATTEMPTS: '1' });
    const dlq = await collect(client, 'routemq/dlq/#');
    await app(broker, env, (router) =>
      router.on('props/{id}', () => {
        throw new Error('no');
      }),
    );
    const properties = {
      payloadFormatIndicator: true,
      messageExpiryInterval: 600,
      contentType: 'application/json',
      responseTopic: 'replies/p1',
      correlationData: Buffer.from([9, 8, 7, 0xff]),
      userProperties: { tenant: 'acme', tag: ['a', 'b', 'a'] },
    };
    await client.publishAsync('props/p1', '{"p":1}', { qos: 1, properties });
    await dlq.waitFor(1);
    const [stored] = await spooled(stateDir);
    const copy = JSON.parse(dlq.messages[0]?.payload.toString() ?? '') as DeadLetterEnvelope;
    expect(copy.properties).toEqual(stored?.properties);
    // The broker may shorten the expiry by the time the message waited; the rest is exact.
    const back = stored ? originalProperties(stored) : undefined;
    expect({ ...back, messageExpiryInterval: undefined }).toEqual({ ...properties, messageExpiryInterval: undefined });
    expect(back?.messageExpiryInterval).toBeGreaterThan(590);
  });

  it('when the store is full, leaves the original unacked, says why on status, and stores it once purged', async () => {
    const { broker, client, env } = await setup([], { ROUTEMQ_MAX_ATTEMPTS: '1', ROUTEMQ_DLQ_MAX_ENTRIES: '2' });
    const started = await app(broker, env, (router) =>
      router.on('full/{id}', () => {
        throw new Error('no');
      }),
    );
    for (const id of ['1', '2', '3']) await client.publishAsync(`full/${id}`, '{}', { qos: 1 });
    await waitUntil(() => started.status().problems.some((p) => p.includes('dead-letter store full')), 15_000, 'full');
    const status = started.status();
    expect(status.ready).toBe(false);
    expect(status.problems.join('\n')).toMatch(/RMQ_ERR_DLQ_STORE_FULL/);
    expect(status.deadLetters?.store).toMatchObject({ entries: 2, maxEntries: 2, full: true });
    expect(status.main?.inFlight).toBe(1); // the third is held, unacked
    expect(await started.deadLetters?.store.purge({})).toBe(2);
    await waitUntil(() => (started.deadLetters?.status().store.entries ?? 0) === 1, 15_000, 'the third stored');
    const [third] = (await started.deadLetters?.store.list()) ?? [];
    expect(third?.topic).toBe('full/3');
    await waitUntil(() => started.status().ready, 10_000, 'ready again');
  });
});

describe('dead letters in a Redis stream (ENABLE_REDIS)', () => {
  it('keeps them across an app restart, refuses when full, and takes them once purged', async () => {
    const broker = await startTestBroker();
    const stateDir = mkdtempSync(join(tmpdir(), 'routemq-dlq-redis-'));
    const prefix = `${uniqueName('rmqdlq')}:`;
    const redis = await connectRedis();
    const client = await connectClient(broker.url);
    const env = {
      ROUTEMQ_STATE_DIR: stateDir,
      ROUTEMQ_CONTROL_SOCKET: 'none',
      ROUTEMQ_MAX_ATTEMPTS: '1',
      ENABLE_REDIS: 'true',
      ROUTEMQ_REDIS_PREFIX: prefix,
      ROUTEMQ_DLQ_MAX_ENTRIES: '2',
      // One session across the restart, so the held third message comes back to the second app.
      MQTT_CLIENT_ID: uniqueName('rd'),
      MQTT_GROUP_NAME: uniqueName('g'),
      ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '500',
    };
    const apps: RouteMQApp[] = [];
    try {
      const register = (router: Parameters<Parameters<typeof startTestApp>[1]>[0]): void =>
        void router.on('rd/{id}', () => {
          throw new Error('no');
        });
      const first = await startTestApp(broker, register, env);
      apps.push(first);
      for (const id of ['1', '2', '3'])
        await client.publishAsync(`rd/${id}`, Buffer.from([0xff, Number(id)]), { qos: 1 });
      await waitUntil(() => first.status().problems.some((p) => p.includes('dead-letter store full')), 15_000, 'full');
      expect(first.status().deadLetters?.store).toMatchObject({ kind: 'redis', entries: 2, full: true });
      expect(await redis.xlen(`${prefix}dlq`)).toBe(2);
      await first.stop();

      const second = await startTestApp(broker, register, env);
      apps.push(second);
      const store = second.deadLetters?.store;
      const listed = (await store?.list()) ?? [];
      expect(listed.map((s) => s.topic).sort()).toEqual(['rd/1', 'rd/2']);
      const one = await store?.get(listed.find((s) => s.topic === 'rd/1')?.id ?? '');
      expect(one && deadLetterPayload(one).equals(Buffer.from([0xff, 1]))).toBe(true);
      // The third stayed unacked in the broker: it comes back to the new app, which stores it once there is room.
      expect(await store?.purge({})).toBe(2);
      await waitUntil(async () => (await store?.list())?.[0]?.topic === 'rd/3', 15_000, 'the third stored');
      expect(await redis.xlen(`${prefix}dlq`)).toBe(1);
    } finally {
      for (const a of apps) await a.stop();
      await client.endAsync();
      await dropKeys(redis, prefix);
      await redis.quit();
      await broker.dispose();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
