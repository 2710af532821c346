import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DeadLetterSummary } from '../../src/dlq/store.js';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import { deadLetterPayload } from '../../src/message/dead-letter.js';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import type { TestEnv } from '../helpers/fixture.js';
import { waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/dlq/routers', import.meta.url));
const TOKEN = 'dlq-http-token-s3cret';

interface Answer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

/** One HTTP call; `token` goes in the Authorization header. */
async function call<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; token?: string; body?: string; type?: string } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (init.token) headers['authorization'] = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = init.type ?? 'application/json';
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: response.status, body: JSON.parse(await response.text()) as T };
}

/** POST `bytes` of body in chunks, without a content-length (the server must count as it reads). */
function postChunked(url: string, token: string, bytes: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on('error', reject);
    for (let sent = 0; sent < bytes; sent += 1024) req.write(Buffer.alloc(1024, 0x20));
    req.end();
  });
}

type Page = { items: DeadLetterSummary[]; total: number };
type Replayed = { replayed: { id: string; topic: string }[]; warnings: string[]; remaining: number };

describe.each(['spool', 'redis'] as const)('the /dead-letters HTTP API (%s store)', (kind) => {
  const f = useFixture({ routers: ROUTERS, redis: kind === 'redis', env: { HEALTH_HTTP_ENABLED: 'true' } });

  async function serve(
    extra: Record<string, string>,
  ): Promise<{ base: string; env: TestEnv; fixed: string; prefix: string }> {
    const port = await freePort();
    const fixed = f.path('fixed');
    const prefix = f.prefix('dlqhttp');
    const env = f.env({
      HEALTH_HTTP_PORT: String(port),
      ROUTEMQ_STATE_DIR: f.mkdir('state'),
      DLQ_FIXED_FILE: fixed,
      ...(kind === 'redis' ? { ENABLE_REDIS: 'true', ROUTEMQ_REDIS_PREFIX: prefix } : {}),
      ...extra,
    });
    await f.serve(env);
    return { base: `http://127.0.0.1:${port}/dead-letters`, env, fixed, prefix };
  }

  it('lists, shows, replays once to the fixed route, warns on a second replay, purges; refuses without the token', async () => {
    const { base, env, fixed, prefix } = await serve({ HEALTH_HTTP_TOKEN: TOKEN });
    const client = await f.connect();
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);
    await client.publishAsync('dl/a', '{"n":1}', { qos: 1 });
    await client.publishAsync('dl/b', binary, { qos: 1, properties: { userProperties: { tenant: 'acme' } } });
    await client.publishAsync('dl/c', '{"n":3}', { qos: 1 });
    await waitUntil(
      async () => (await call<Page>(base, { token: TOKEN })).body.total === 3,
      20_000,
      'three dead letters in the store',
    );
    // The API reads the app's own store: the Redis stream with ENABLE_REDIS.
    if (kind === 'redis') expect(await f.redis.xlen(`${prefix}dlq`)).toBe(3);

    // Reads need the token once one is set (in the header, or ?token= as the dashboard's EventSource does).
    expect(await call(base)).toMatchObject({ status: 401, body: { code: 'RMQ_ERR_HTTP_UNAUTHORIZED' } });
    expect((await call<Page>(`${base}?token=${TOKEN}`)).body.total).toBe(3);

    const all = await call<Page>(base, { token: TOKEN });
    expect(all.body.items.map((s) => s.topic).sort()).toEqual(['dl/a', 'dl/b', 'dl/c']);
    expect(all.body.items.every((s) => s.code === 'RMQ_ERR_HANDLER_FAILED')).toBe(true);
    const route = all.body.items[0]?.route as string;
    const idOf = (topic: string): string => all.body.items.find((s) => s.topic === topic)?.id as string;
    const page = await call<Page>(`${base}?limit=2&offset=1`, { token: TOKEN });
    expect(page.body).toMatchObject({ total: 3, items: all.body.items.slice(1, 3) });
    const since = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    expect((await call<Page>(`${base}?since=${since}`, { token: TOKEN })).body).toEqual({ items: [], total: 0 });
    expect((await call<Page>(`${base}?route=${encodeURIComponent(route)}`, { token: TOKEN })).body.total).toBe(3);
    for (const bad of ['limit=1001', 'limit=-1', 'offset=x', 'since=yesterday']) {
      expect(await call(`${base}?${bad}`, { token: TOKEN }), bad).toMatchObject({
        status: 400,
        body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
      });
    }

    const shown = await call<DeadLetterEnvelope>(`${base}/${idOf('dl/b')}`, { token: TOKEN });
    expect(shown.status).toBe(200);
    expect(deadLetterPayload(shown.body).equals(binary)).toBe(true);
    expect(await call(`${base}/nope`, { token: TOKEN })).toMatchObject({
      status: 404,
      body: { code: 'RMQ_ERR_DLQ_NOT_FOUND' },
    });

    // A replay without the token, with a wrong one, or with the token only in the URL, is refused and does nothing.
    const replayB = `${base}/${idOf('dl/b')}/replay`;
    for (const refused of [
      await call(replayB, { method: 'POST' }),
      await call(replayB, { method: 'POST', token: 'wrong' }),
      await call(`${replayB}?token=${TOKEN}`, { method: 'POST' }),
    ]) {
      expect(refused).toMatchObject({ status: 401, body: { code: 'RMQ_ERR_HTTP_UNAUTHORIZED' } });
    }
    // Bad bodies: not JSON, a misspelt key, too large; the wrong method.
    const post = (body: string, type?: string): Promise<Answer> =>
      call(replayB, { method: 'POST', token: TOKEN, body, ...(type ? { type } : {}) });
    expect(await post('{"toTopic":"x"}', 'text/plain')).toMatchObject({
      status: 415,
      body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
    });
    expect(await post('{"to_topic":"x"}')).toMatchObject({
      status: 400,
      body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
    });
    expect(await post('{"toTopic":"dl/#"}')).toMatchObject({
      status: 400,
      body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
    });
    expect(await post(JSON.stringify({ toTopic: 'x'.repeat(20_000) }))).toMatchObject({
      status: 413,
      body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
    });
    expect(await postChunked(replayB, TOKEN, 17 * 1024)).toMatchObject({
      status: 413,
      body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
    });
    expect((await call(replayB, { method: 'DELETE', token: TOKEN })).status).toBe(405);
    expect((await call<Page>(base, { token: TOKEN })).body.items.every((s) => s.replayed === undefined)).toBe(true);

    // The fix is deployed: the replayed message runs once on the fixed route, with the replay mark.
    writeFileSync(fixed, 'fixed');
    const first = await call<Replayed>(replayB, { method: 'POST', token: TOKEN });
    expect(first).toMatchObject({
      status: 200,
      body: { replayed: [{ id: idOf('dl/b'), topic: 'dl/b' }], warnings: [] },
    });
    await waitUntil(() => readSeen(env.SEEN_FILE).length === 1, 15_000, 'the replayed message');
    expect(readSeen(env.SEEN_FILE).map((s) => [s.id, s.version])).toEqual([['b', idOf('dl/b')]]);
    const second = await call<Replayed>(replayB, { method: 'POST', token: TOKEN, body: '{}' });
    expect(second.body.warnings).toEqual([expect.stringMatching(new RegExp(`^${idOf('dl/b')} was already replayed`))]);
    await waitUntil(() => readSeen(env.SEEN_FILE).length === 2, 15_000, 'the second replay');

    // Bulk: every dead letter with this code, to another topic; a selection is required.
    const replayAll = `${base}/replay`;
    expect(await call(replayAll, { method: 'POST', token: TOKEN, body: '{}' })).toMatchObject({
      status: 400,
      body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
    });
    const bulk = await call<Replayed>(replayAll, {
      method: 'POST',
      token: TOKEN,
      body: JSON.stringify({ code: 'RMQ_ERR_HANDLER_FAILED', toTopic: 'dl/moved' }),
    });
    expect(bulk.body.replayed.map((r) => r.topic)).toEqual(['dl/moved', 'dl/moved', 'dl/moved']);
    expect(bulk.body).toMatchObject({ remaining: 0, warnings: [expect.stringContaining(idOf('dl/b'))] });
    await waitUntil(() => readSeen(env.SEEN_FILE).length === 5, 15_000, 'the bulk replay');
    // Every delivery accounted for: b twice on its own topic, then each id once on the new topic.
    const seen = readSeen(env.SEEN_FILE).map((s) => `${s.id}:${s.version}`);
    expect(seen.sort()).toEqual(
      [
        `b:${idOf('dl/b')}`,
        `b:${idOf('dl/b')}`,
        `moved:${idOf('dl/a')}`,
        `moved:${idOf('dl/b')}`,
        `moved:${idOf('dl/c')}`,
      ].sort(),
    );

    // Purge: one id, then by route; never without a filter or all=true; never without the token.
    const one = `${base}/${idOf('dl/a')}`;
    expect(await call(one, { method: 'DELETE' })).toMatchObject({ status: 401 });
    expect(await call(one, { method: 'DELETE', token: TOKEN })).toMatchObject({ status: 200, body: { purged: 1 } });
    expect(await call(one, { method: 'DELETE', token: TOKEN })).toMatchObject({
      status: 404,
      body: { code: 'RMQ_ERR_DLQ_NOT_FOUND' },
    });
    expect(await call(base, { method: 'DELETE', token: TOKEN })).toMatchObject({
      status: 400,
      body: { code: 'RMQ_ERR_DLQ_REQUEST_INVALID' },
    });
    const byRoute = await call(`${base}?route=${encodeURIComponent(route)}`, { method: 'DELETE', token: TOKEN });
    expect(byRoute).toMatchObject({ status: 200, body: { purged: 2 } });
    expect((await call<Page>(base, { token: TOKEN })).body).toEqual({ items: [], total: 0 });
  });
});

describe('the /dead-letters HTTP API while its Redis is down', () => {
  const f = useFixture({ routers: ROUTERS, env: { HEALTH_HTTP_ENABLED: 'true', ENABLE_REDIS: 'true' } });

  it('answers 503 with a code, and serves again once Redis is back', async () => {
    const redis = await f.redisServer();
    const port = await freePort();
    await f.serve(
      f.env({
        HEALTH_HTTP_PORT: String(port),
        HEALTH_HTTP_TOKEN: TOKEN,
        REDIS_PORT: String(redis.port),
        ROUTEMQ_REDIS_PREFIX: f.prefix('dlqdown'),
      }),
    );
    const base = `http://127.0.0.1:${port}/dead-letters`;
    expect(await call<Page>(base, { token: TOKEN })).toMatchObject({ status: 200, body: { total: 0 } });

    await redis.stop();
    let down: Answer = { status: 0, body: {} };
    await waitUntil(
      async () => (down = await call(base, { token: TOKEN })).status === 503,
      15_000,
      'a 503 while Redis is down',
    );
    // Refused by the client while it knows Redis is down, or failed by the command on the way there.
    expect(['RMQ_ERR_REDIS_UNAVAILABLE', 'RMQ_ERR_DLQ_STORE_FAILED']).toContain(down.body['code']);
    const replay = await call(`${base}/replay`, { method: 'POST', token: TOKEN, body: '{"all":true}' });
    expect(replay.status).toBe(503);

    await redis.start();
    await waitUntil(
      async () => (await call(base, { token: TOKEN })).status === 200,
      20_000,
      'the API back once Redis is',
    );
  });
});
