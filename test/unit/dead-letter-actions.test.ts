import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkTopicName,
  listDeadLetters,
  parseDeadLetterFilter,
  purgeDeadLetters,
  replayDeadLetters,
  selectForReplay,
  showDeadLetter,
} from '../../src/dlq/dead-letter-actions.js';
import { SpoolStore } from '../../src/dlq/spool-store.js';
import { buildDeadLetter } from '../../src/message/dead-letter.js';

const route = { name: 'r', pattern: 'r/{id}', shared: false } as never;

function envelope(i: number, code: 'RMQ_ERR_HANDLER_FAILED' | 'RMQ_ERR_PAYLOAD_SCHEMA' = 'RMQ_ERR_HANDLER_FAILED') {
  return buildDeadLetter(
    {
      cmd: 'publish',
      topic: `r/${i}`,
      payload: Buffer.from([0xff, i]),
      qos: 1,
      retain: false,
      dup: false,
      properties: { contentType: 'x/bin', userProperties: { k: ['a', 'b'] } },
    },
    route,
    { code, message: `failed ${i}`, attempts: 1 },
    { dlqPrefix: 'routemq/dlq' },
  );
}

describe('dead-letter actions (shared by routemq dlq and the HTTP API)', () => {
  let dir: string;
  let store: SpoolStore;
  const ids: string[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'routemq-dlq-actions-'));
    store = new SpoolStore({ dir, maxEntries: 1000, maxBytes: 10_000_000 });
    await store.open();
    ids.length = 0;
    for (const [i, code] of [
      [1, 'RMQ_ERR_HANDLER_FAILED'],
      [2, 'RMQ_ERR_PAYLOAD_SCHEMA'],
      [3, 'RMQ_ERR_HANDLER_FAILED'],
    ] as const) {
      const put = await store.put(envelope(i, code));
      if (put.ok) ids.push(put.id);
    }
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pages a filtered list, oldest first, with the total', async () => {
    expect(await listDeadLetters(store, {}, { limit: 2 })).toMatchObject({
      total: 3,
      items: [{ id: ids[0] }, { id: ids[1] }],
    });
    expect(await listDeadLetters(store, {}, { limit: 2, offset: 2 })).toMatchObject({
      total: 3,
      items: [{ id: ids[2] }],
    });
    const failed = await listDeadLetters(store, parseDeadLetterFilter({ code: 'RMQ_ERR_HANDLER_FAILED' }));
    expect(failed.items.map((s) => s.id)).toEqual([ids[0], ids[2]]);
    const future = parseDeadLetterFilter({ since: new Date(Date.now() + 60_000).toISOString() });
    expect((await listDeadLetters(store, future)).total).toBe(0);
  });

  it('refuses bad limits, offsets and dates with RMQ_ERR_DLQ_REQUEST_INVALID', async () => {
    const code = { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' };
    await expect(listDeadLetters(store, {}, { limit: 1001 })).rejects.toMatchObject(code);
    await expect(listDeadLetters(store, {}, { limit: 1.5 })).rejects.toMatchObject(code);
    await expect(listDeadLetters(store, {}, { offset: -1 })).rejects.toMatchObject(code);
    expect(() => parseDeadLetterFilter({ since: 'yesterday' })).toThrow(expect.objectContaining(code));
    for (const topic of ['', 'a/+/b', 'a/#', 'a\u0000b']) expect(() => checkTopicName(topic)).toThrow(/topic name/);
    expect(() => checkTopicName('a/b')).not.toThrow();
  });

  it('shows an envelope, and names an unknown id with RMQ_ERR_DLQ_NOT_FOUND', async () => {
    expect((await showDeadLetter(store, ids[1] as string)).topic).toBe('r/2');
    await expect(showDeadLetter(store, 'nope')).rejects.toMatchObject({ code: 'RMQ_ERR_DLQ_NOT_FOUND' });
  });

  it('selects what to replay only from an id, a route, a code or all', async () => {
    expect(await selectForReplay(store, { id: ids[0] })).toEqual([ids[0]]);
    expect(await selectForReplay(store, { code: 'RMQ_ERR_PAYLOAD_SCHEMA' })).toEqual([ids[1]]);
    expect(await selectForReplay(store, { all: true })).toEqual(ids);
    await expect(selectForReplay(store, {})).rejects.toMatchObject({ code: 'RMQ_ERR_DLQ_REQUEST_INVALID' });
    await expect(selectForReplay(store, { since: '2020-01-01' })).rejects.toMatchObject({
      code: 'RMQ_ERR_DLQ_REQUEST_INVALID',
    });
    await expect(selectForReplay(store, { id: 'nope' })).rejects.toMatchObject({ code: 'RMQ_ERR_DLQ_NOT_FOUND' });
    await expect(selectForReplay(store, { all: true, toTopic: 'x/#' })).rejects.toMatchObject({
      code: 'RMQ_ERR_DLQ_REQUEST_INVALID',
    });
  });

  it('republishes the original bytes, QoS and v5 properties plus routemq-replayed, and reports a second replay', async () => {
    const sent: { topic: string; payload: Buffer; options: unknown }[] = [];
    const publish = (topic: string, payload: Buffer, options: unknown): Promise<void> => {
      sent.push({ topic, payload, options });
      return Promise.resolve();
    };
    const first = await replayDeadLetters(store, [ids[0] as string], publish, { protocolVersion: 5 });
    expect(first).toEqual([{ id: ids[0], topic: 'r/1', previous: undefined }]);
    expect(sent[0]?.payload.equals(Buffer.from([0xff, 1]))).toBe(true);
    expect(sent[0]?.options).toMatchObject({
      qos: 1,
      properties: { contentType: 'x/bin', userProperties: { k: ['a', 'b'], 'routemq-replayed': ids[0] } },
    });
    const second = await replayDeadLetters(store, [ids[0] as string, 'gone'], publish, {
      protocolVersion: 4,
      toTopic: 'elsewhere',
    });
    expect(second).toEqual([{ id: ids[0], topic: 'elsewhere', previous: { at: expect.any(String), topic: 'r/1' } }]);
    // MQTT 3.1.1 has no properties to carry.
    expect(sent[1]).toMatchObject({ topic: 'elsewhere', options: { qos: 1 } });
    expect(sent[1]?.options).not.toHaveProperty('properties');
  });

  it('purges an id, or what a filter matches, and never everything without all', async () => {
    await expect(purgeDeadLetters(store, {})).rejects.toMatchObject({ code: 'RMQ_ERR_DLQ_REQUEST_INVALID' });
    expect(await purgeDeadLetters(store, { id: ids[1] })).toBe(1);
    await expect(purgeDeadLetters(store, { id: ids[1] })).rejects.toMatchObject({ code: 'RMQ_ERR_DLQ_NOT_FOUND' });
    expect(await purgeDeadLetters(store, { code: 'RMQ_ERR_PAYLOAD_SCHEMA' })).toBe(0);
    expect(await purgeDeadLetters(store, { all: true })).toBe(2);
    expect((await listDeadLetters(store, {})).total).toBe(0);
  });
});
