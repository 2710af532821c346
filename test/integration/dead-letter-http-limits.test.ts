import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpoolStore } from '../../src/dlq/spool-store.js';
import { handleDeadLetterRequest } from '../../src/health/dead-letter-http.js';
import { silentLogger } from '../../src/logger.js';
import { buildDeadLetter } from '../../src/message/dead-letter.js';

const route = { name: 'r', pattern: 'r/{id}', shared: false } as never;
const N = 1001;

// The API's bounds, on a store with more dead letters than one request may cover, behind a bare HTTP server (the
// health server's authorisation is tested with a running app in dead-letters-http.test.ts).
describe('the /dead-letters API bounds each request', () => {
  let dir: string;
  let store: SpoolStore;
  let server: Server;
  let base: string;
  const published: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'routemq-dlq-limits-'));
    store = new SpoolStore({ dir, maxEntries: 10_000, maxBytes: 100_000_000 });
    await store.open();
    const puts = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        store.put(
          buildDeadLetter(
            { cmd: 'publish', topic: `r/${i}`, payload: Buffer.from(`{"i":${i}}`), qos: 1, retain: false, dup: false },
            route,
            { code: 'RMQ_ERR_HANDLER_FAILED', message: 'failed', attempts: 1 },
            { dlqPrefix: 'routemq/dlq' },
          ),
        ),
      ),
    );
    expect(puts.every((p) => p.ok)).toBe(true);
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      void handleDeadLetterRequest(req, res, url, {
        store: () => store,
        publish: (topic) => {
          published.push(topic);
          return Promise.resolve();
        },
        protocolVersion: 5,
        logger: silentLogger(),
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dead-letters`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists 100 by default, at most 1000, and only the total with limit=0', async () => {
    const page = async (query: string): Promise<{ items: unknown[]; total: number }> =>
      (await (await fetch(`${base}${query}`)).json()) as { items: unknown[]; total: number };
    expect(await page('')).toMatchObject({ total: N, items: { length: 100 } });
    expect(await page('?limit=1000')).toMatchObject({ total: N, items: { length: 1000 } });
    expect(await page('?limit=1000&offset=1000')).toMatchObject({ total: N, items: { length: 1 } });
    expect(await page('?limit=0')).toEqual({ total: N, items: [] });
    expect((await fetch(`${base}?limit=1001`)).status).toBe(400);
  });

  it('replays at most 1000 per request, oldest first, and says how many remain', async () => {
    const response = await fetch(`${base}/replay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"all":true}',
    });
    const body = (await response.json()) as { replayed: { topic: string }[]; remaining: number };
    expect(body.remaining).toBe(1);
    expect(body.replayed).toHaveLength(1000);
    expect(published).toEqual(Array.from({ length: 1000 }, (_, i) => `r/${i}`));
  });
});
