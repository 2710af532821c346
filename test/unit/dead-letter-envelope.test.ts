import type { IPublishPacket } from 'mqtt';
import { describe, expect, it } from 'vitest';
import {
  buildDeadLetter,
  deadLetterMessage,
  deadLetterPayload,
  originalProperties,
} from '../../src/message/dead-letter.js';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';

const route = { name: 'orders/{id}', pattern: 'orders/{id}', shared: false } as never;

function packet(payload: Buffer, properties?: IPublishPacket['properties']): IPublishPacket {
  return { cmd: 'publish', topic: 'orders/1', payload, qos: 1, retain: false, dup: false, messageId: 7, properties };
}

function build(p: IPublishPacket, error: unknown = new Error('boom')): DeadLetterEnvelope {
  return buildDeadLetter(
    p,
    route,
    { code: 'RMQ_ERR_HANDLER_FAILED', message: 'boom', attempts: 1, error },
    {
      dlqPrefix: 'routemq/dlq',
      origin: { instance: 'host-1', pool: 'orders', slot: 2 },
      now: new Date('2030-01-02T03:04:05.000Z'),
    },
  );
}

describe('dead-letter envelope', () => {
  it('keeps bytes that are not UTF-8 exactly, as base64', () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x10]);
    const envelope = build(packet(bytes));
    expect(envelope.payloadEncoding).toBe('base64');
    expect(deadLetterPayload(envelope).equals(bytes)).toBe(true);
    // Through JSON (the store and the MQTT copy) too.
    const copy = JSON.parse(JSON.stringify(envelope)) as DeadLetterEnvelope;
    expect(deadLetterPayload(copy).equals(bytes)).toBe(true);
  });

  it('keeps UTF-8 text as text', () => {
    const envelope = build(packet(Buffer.from('{"a":"é"}')));
    expect(envelope).toMatchObject({ payloadEncoding: 'utf8', payload: '{"a":"é"}', payloadBytes: 10 });
  });

  it('says where, when and why: route, topic, qos, retain, attempts, code, stack, instance, pool, slot', () => {
    const envelope = build(packet(Buffer.from('x')));
    expect(envelope).toMatchObject({
      routemq: 'dead-letter',
      version: 1,
      route: 'orders/{id}',
      topic: 'orders/1',
      qos: 1,
      retain: false,
      attempts: 1,
      error: { code: 'RMQ_ERR_HANDLER_FAILED', message: 'boom' },
      failedAt: '2030-01-02T03:04:05.000Z',
      instance: 'host-1',
      pool: 'orders',
      slot: 2,
      dlq: 'routemq/dlq/orders/{id}',
    });
    expect(envelope.error.stack).toMatch(/^Error: boom/);
    expect(envelope.id).toMatch(/^[0-9a-z]{9}-[0-9a-f]{8}$/);
  });

  it('truncates the stack', () => {
    const err = new Error('deep');
    err.stack = 'x'.repeat(10_000);
    expect(build(packet(Buffer.from('x')), err).error.stack).toHaveLength(2000);
  });

  it('keeps every v5 property, repeated user-property keys included, and gives them back for a replay', () => {
    const properties = {
      payloadFormatIndicator: true,
      messageExpiryInterval: 3600,
      contentType: 'application/json',
      responseTopic: 'replies/1',
      correlationData: Buffer.from([1, 2, 3, 255]),
      userProperties: { tenant: 'a', tag: ['x', 'y', 'x'] },
      subscriptionIdentifier: 4,
    };
    const envelope = JSON.parse(JSON.stringify(build(packet(Buffer.from('{}'), properties)))) as DeadLetterEnvelope;
    expect(envelope.properties).toEqual({
      payloadFormatIndicator: true,
      messageExpiryInterval: 3600,
      contentType: 'application/json',
      responseTopic: 'replies/1',
      correlationData: Buffer.from([1, 2, 3, 255]).toString('base64'),
      userProperties: [
        ['tenant', 'a'],
        ['tag', 'x'],
        ['tag', 'y'],
        ['tag', 'x'],
      ],
    });
    const { subscriptionIdentifier: _sid, ...rest } = properties;
    expect(originalProperties(envelope, [['routemq-replayed', envelope.id]])).toEqual({
      ...rest,
      userProperties: { tenant: 'a', tag: ['x', 'y', 'x'], 'routemq-replayed': envelope.id },
    });
  });

  it('sends a whole copy when it fits, and cuts the payload (flag set) to fit a small packet limit', () => {
    const envelope = build(packet(Buffer.alloc(50_000, 0x61)));
    const whole = deadLetterMessage(envelope, 'routemq/dlq/orders', 1_000_000);
    expect(whole?.truncated).toBe(false);
    expect(JSON.parse(whole?.payload ?? '')).toEqual(envelope);
    for (const limit of [1000, 4096, 20_000]) {
      const cut = deadLetterMessage(envelope, 'routemq/dlq/orders', limit);
      expect(cut?.truncated).toBe(true);
      expect(cut?.packetBytes).toBeLessThanOrEqual(limit);
      const body = JSON.parse(cut?.payload ?? '') as DeadLetterEnvelope;
      expect(body).toMatchObject({ payloadTruncated: true, payloadBytes: 50_000, id: envelope.id });
      expect(body.payload.length).toBeGreaterThan(0);
      expect('a'.repeat(50_000).startsWith(body.payload)).toBe(true);
    }
  });

  it('cuts binary payloads too, and gives up only when not even an empty payload fits', () => {
    const envelope = build(packet(Buffer.alloc(10_000, 0xff)));
    const cut = deadLetterMessage(envelope, 't', 2000);
    expect(cut?.packetBytes).toBeLessThanOrEqual(2000);
    expect(JSON.parse(cut?.payload ?? '')).toMatchObject({ payloadEncoding: 'base64', payloadTruncated: true });
    expect(deadLetterMessage(envelope, 't', 100)).toBeUndefined();
  });
});
