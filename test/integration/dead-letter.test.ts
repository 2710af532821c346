import type { MqttClient } from 'mqtt';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import { useFixture } from '../helpers/fixture.js';
import { collect, waitUntil } from '../helpers/mqtt.js';

describe('dead-letter topic and bad input', () => {
  const f = useFixture();
  let client: MqttClient;
  let dlq: Awaited<ReturnType<typeof collect>>;
  const attemptsSeen = new Map<string, number>();
  const okSeen: string[] = [];
  const replies: string[] = [];

  beforeAll(async () => {
    await f.app(
      (router) => {
        router.on(
          'always/{id}',
          (ctx) => {
            attemptsSeen.set(ctx.params.id, ctx.attempt);
            throw new Error(`boom ${ctx.params.id}`);
          },
          { maxAttempts: 3 },
        );
        router.on('strict/{id}', () => undefined, { schema: z.object({ v: z.number() }) });
        router.on('ok/{id}', (ctx) => void okSeen.push(ctx.params.id));
        // A handler that publishes QoS1 and awaits the PUBACK on the same connection: deadlocks if the
        // received message held the connection's pipeline (DELIVERY.md).
        router.on('echo/{id}', async (ctx) => {
          await ctx.publish(`echoed/${ctx.params.id}`, ctx.raw, { qos: 1 });
          replies.push(ctx.params.id);
        });
      },
      { ROUTEMQ_RETRY_BASE_MS: '10', ROUTEMQ_RETRY_MAX_MS: '20', ROUTEMQ_HANDLER_TIMEOUT_MS: '5000' },
    );
    client = await f.connect();
    dlq = await collect(client, 'routemq/dlq/#');
  });

  function envelopes(): DeadLetterEnvelope[] {
    return dlq.messages.map((m) => JSON.parse(m.payload.toString()) as DeadLetterEnvelope);
  }

  it('sends a message whose handler always throws to the DLQ after maxAttempts, with the envelope', async () => {
    await client.publishAsync('always/a1', '{"x":1}', { qos: 1 });
    await waitUntil(() => envelopes().some((e) => e.topic === 'always/a1'), 10_000, 'the dead letter');
    const envelope = envelopes().find((e) => e.topic === 'always/a1');
    expect(envelope).toMatchObject({
      routemq: 'dead-letter',
      route: 'always/{id}',
      topic: 'always/a1',
      attempts: 3,
      error: { code: 'RMQ_ERR_HANDLER_FAILED', message: 'boom a1' },
      payloadEncoding: 'utf8',
      payload: '{"x":1}',
    });
    expect(attemptsSeen.get('a1')).toBe(3);
    const message = dlq.messages.find((m) => JSON.parse(m.payload.toString()).topic === 'always/a1');
    expect(message?.topic).toBe('routemq/dlq/always/{id}');
    expect(message?.properties).toMatchObject({
      userProperties: { 'routemq-error-code': 'RMQ_ERR_HANDLER_FAILED', 'routemq-attempts': '3' },
    });
  });

  it('keeps serving the next messages after a failure', async () => {
    await client.publishAsync('always/a2', '{}', { qos: 1 });
    await client.publishAsync('ok/after-failure', '{}', { qos: 1 });
    await waitUntil(() => okSeen.includes('after-failure'), 10_000, 'the good message');
  });

  it.each([
    ['a 10 MB payload', Buffer.alloc(10 * 1024 * 1024, 0x61), 'RMQ_ERR_PAYLOAD_TOO_LARGE'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'RMQ_ERR_PAYLOAD_NOT_UTF8'],
    ['100k-deep JSON', Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)), 'RMQ_ERR_PAYLOAD_TOO_DEEP'],
    ['a __proto__ key', Buffer.from('{"__proto__":{"x":1}}'), 'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY'],
    ['a schema mismatch', Buffer.from('{"v":"text"}'), 'RMQ_ERR_PAYLOAD_SCHEMA'],
    ['not JSON', Buffer.from('v=1'), 'RMQ_ERR_PAYLOAD_NOT_JSON'],
  ])('dead-letters %s with its own code, without retries, and stays up', async (label, payload, code) => {
    const id = label.replace(/\W+/g, '-');
    await client.publishAsync(`strict/${id}`, payload, { qos: 1 });
    await waitUntil(() => envelopes().some((e) => e.topic === `strict/${id}`), 15_000, `the dead letter of ${label}`);
    const envelope = envelopes().find((e) => e.topic === `strict/${id}`);
    expect(envelope?.error.code).toBe(code);
    expect(envelope?.attempts).toBe(1);
    expect(envelope?.payloadBytes).toBe(payload.length);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    await client.publishAsync('ok/after-' + id, '{}', { qos: 1 });
    await waitUntil(() => okSeen.includes('after-' + id), 10_000, 'a good message after the bad one');
  });

  it('lets a handler publish at QoS1 and await the ack without deadlocking its own connection', async () => {
    await Promise.all(['e1', 'e2', 'e3'].map((id) => client.publishAsync(`echo/${id}`, 'hi', { qos: 1 })));
    await waitUntil(() => replies.length === 3, 10_000, 'three replies');
    expect([...replies].sort()).toEqual(['e1', 'e2', 'e3']);
  });
});
