import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SPOOL_FILE, SpoolStore } from '../../src/dlq/spool-store.js';
import { buildDeadLetter } from '../../src/message/dead-letter.js';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';

const route = { name: 'r', pattern: 'r/{id}', shared: false } as never;

function envelope(i: number, code: 'RMQ_ERR_HANDLER_FAILED' | 'RMQ_ERR_PAYLOAD_SCHEMA' = 'RMQ_ERR_HANDLER_FAILED') {
  return buildDeadLetter(
    { cmd: 'publish', topic: `r/${i}`, payload: Buffer.from(`{"i":${i}}`), qos: 1, retain: false, dup: false },
    route,
    { code, message: `failed ${i}`, attempts: 1 },
    { dlqPrefix: 'routemq/dlq' },
  );
}

describe('SpoolStore', () => {
  let dir: string;
  const stores: SpoolStore[] = [];
  async function openStore(max: { entries?: number; bytes?: number } = {}, readOnly = false): Promise<SpoolStore> {
    const store = new SpoolStore({
      dir,
      maxEntries: max.entries ?? 1000,
      maxBytes: max.bytes ?? 10_000_000,
      readOnly,
    });
    await store.open();
    stores.push(store);
    return store;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'routemq-spool-'));
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps what it stored across a reopen (another process reading it), with every field', async () => {
    const store = await openStore();
    const stored = await Promise.all([1, 2, 3].map((i) => store.put(envelope(i))));
    expect(stored.every((r) => r.ok)).toBe(true);
    const reader = await openStore({}, true);
    const list = await reader.list();
    expect(list.map((s) => s.topic).sort()).toEqual(['r/1', 'r/2', 'r/3']);
    const first = stored[0];
    const id = first?.ok ? first.id : '';
    const back = await reader.get(id);
    expect(back?.payload).toBe('{"i":1}');
    expect(reader.size()).toMatchObject({ kind: 'file', entries: 3 });
  });

  it('group-commits concurrent puts into one write and resolves each', async () => {
    const store = await openStore();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.put(envelope(i))));
    expect(results.filter((r) => r.ok)).toHaveLength(200);
    const lines = readFileSync(join(dir, SPOOL_FILE), 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(200);
  });

  it('refuses a put when full (entries), says so in size(), and takes it once a purge made room', async () => {
    const store = await openStore({ entries: 2 });
    expect((await store.put(envelope(1))).ok).toBe(true);
    expect((await store.put(envelope(2))).ok).toBe(true);
    const refused = await store.put(envelope(3));
    expect(refused).toMatchObject({ ok: false, code: 'RMQ_ERR_DLQ_STORE_FULL' });
    expect(refused.ok ? '' : refused.message).toMatch(/full \(2 of 2 entries/);
    expect(store.size()).toMatchObject({ entries: 2, full: true });
    expect(await store.purge({ route: 'r/{id}', code: 'RMQ_ERR_HANDLER_FAILED' })).toBe(2);
    expect(store.size()).toMatchObject({ entries: 0, full: false });
    expect((await store.put(envelope(3))).ok).toBe(true);
    expect((await store.list()).map((s) => s.topic)).toEqual(['r/3']);
  });

  it('refuses a put when full (bytes)', async () => {
    const store = await openStore({ bytes: 1024 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.put(envelope(i))));
    const ok = results.filter((r) => r.ok).length;
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(10);
    expect(store.size().bytes).toBeLessThanOrEqual(1024);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.code === 'RMQ_ERR_DLQ_STORE_FULL')).toBe(true);
  });

  it('skips a torn last line (a crash mid-write) and appends after it on a line of its own', async () => {
    const store = await openStore();
    await store.put(envelope(1));
    await store.close();
    appendFileSync(join(dir, SPOOL_FILE), '{"routemq":"dead-letter","id":"torn","pay');
    const reopened = await openStore();
    expect((await reopened.list()).map((s) => s.topic)).toEqual(['r/1']);
    await reopened.put(envelope(2));
    const reader = await openStore({}, true);
    expect((await reader.list()).map((s) => s.topic)).toEqual(['r/1', 'r/2']);
  });

  it('applies a purge made by another process (the CLI) and compacts the spool when the writer reopens', async () => {
    const writer = await openStore();
    await Promise.all([1, 2, 3, 4].map((i) => writer.put(envelope(i, i % 2 ? 'RMQ_ERR_PAYLOAD_SCHEMA' : undefined))));
    const cli = await openStore({}, true);
    expect(await cli.purge({ code: 'RMQ_ERR_PAYLOAD_SCHEMA' })).toBe(2);
    expect((await writer.list()).map((s) => s.topic).sort()).toEqual(['r/2', 'r/4']);
    expect(writer.size().entries).toBe(2);
    await writer.close();
    await openStore();
    const lines = readFileSync(join(dir, SPOOL_FILE), 'utf8').split('\n').filter(Boolean);
    expect(lines.map((l) => (JSON.parse(l) as DeadLetterEnvelope).topic).sort()).toEqual(['r/2', 'r/4']);
  });

  it('remembers replays and hands back the previous one', async () => {
    const store = await openStore();
    const put = await store.put(envelope(1));
    const id = put.ok ? put.id : '';
    expect(await store.markReplayed(id, { at: '2030-01-01T00:00:00.000Z', topic: 'r/1' })).toBeUndefined();
    const reader = await openStore({}, true);
    expect(await reader.markReplayed(id, { at: '2030-01-02T00:00:00.000Z', topic: 'r/1' })).toEqual({
      at: '2030-01-01T00:00:00.000Z',
      topic: 'r/1',
    });
  });
  it('never gives a reader opened before a compaction another entry at a stale offset (it re-reads the index)', async () => {
    // Five envelopes of one length: after the writer compacts away the first three, the other two sit at the
    // offsets the reader had for the first two.
    const writer = await openStore();
    const stored = await Promise.all([1, 2, 3, 4, 5].map((i) => writer.put(envelope(i))));
    const ids = stored.map((r) => (r.ok ? r.id : ''));
    const reader = await openStore({}, true);
    for (const id of ids.slice(0, 3)) expect(await writer.purge({ ids: [id] })).toBe(1);
    expect(readFileSync(join(dir, SPOOL_FILE), 'utf8').trim().split('\n')).toHaveLength(2); // compacted
    // The reader's index still places r/1 at offset 0, where r/4 now is.
    expect(await reader.get(ids[0] ?? '')).toBeUndefined();
    expect((await reader.get(ids[3] ?? ''))?.topic).toBe('r/4');
    expect((await reader.get(ids[4] ?? ''))?.topic).toBe('r/5');
    expect((await reader.list()).map((s) => s.topic).sort()).toEqual(['r/4', 'r/5']);
  });

  it('reads an entry in the writer while a purge compacts the spool', async () => {
    const writer = await openStore();
    const stored = await Promise.all([1, 2, 3, 4, 5].map((i) => writer.put(envelope(i))));
    const ids = stored.map((r) => (r.ok ? r.id : ''));
    const [purged, got] = await Promise.all([
      writer.purge({ ids: ids.slice(0, 3) }),
      Promise.all(ids.map((id) => writer.get(id))),
    ]);
    expect(purged).toBe(3);
    // Each read gives its own envelope or, once purged, none: never another one.
    got.forEach((envelope, i) => expect(envelope === undefined || envelope.topic === `r/${i + 1}`).toBe(true));
    expect((await writer.get(ids[4] ?? ''))?.topic).toBe('r/5');
  });
});
