import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DashboardData } from '../../src/health/dashboard-data.js';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import type { SessionEntry } from '../../src/sessions/session-list.js';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { waitUntil } from '../helpers/mqtt.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/dashboard/routers', import.meta.url));
const TOKEN = 'dashboard-http-token-s3cret';

/** The body of `GET /dashboard/data`: the history's data plus the registry's sessions. */
type DataBody = DashboardData & { readonly sessions: readonly SessionEntry[] };
const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

interface Answer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

async function call<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; token?: string; body?: string } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (init.token) headers['authorization'] = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: response.status, body: JSON.parse(await response.text()) as T };
}

describe("the dashboard's HTTP endpoints", () => {
  const f = useFixture({
    routers: ROUTERS,
    env: { HEALTH_HTTP_ENABLED: 'true', ROUTEMQ_HEALTH_INTERVAL_MS: '250', WORK_WORKERS: '1' },
  });

  async function serve(extra: Record<string, string> = {}): Promise<string> {
    const port = await freePort();
    await f.serve(f.env({ HEALTH_HTTP_PORT: String(port), ROUTEMQ_STATE_DIR: f.mkdir('state'), ...extra }));
    return `http://127.0.0.1:${port}`;
  }

  it('serves identity, per-route figures (main connection included), chart points and the events from before', async () => {
    const base = await serve();
    const client = await f.connect();
    await client.publishAsync('work/w1', '{}', { qos: 1 });
    await client.publishAsync('orders/o1', '{}', { qos: 1 });
    let data: DataBody | undefined;
    await waitUntil(
      async () => {
        data = (await call<DataBody>(`${base}/dashboard/data`)).body;
        const routes = new Map(data.routes.map((r) => [r.route, r]));
        return (
          routes.get('work/{id}')?.handled === 1 &&
          routes.get('orders/{id}')?.deadLettered === 1 &&
          (data.series['work']?.length ?? 0) >= 2
        );
      },
      20_000,
      'both routes counted and chart points of pool work',
    );
    const d = data as DataBody;
    expect(d.info).toMatchObject({ instance: 'test', broker: `mqtt://127.0.0.1:${f.broker.port}`, version: VERSION });
    expect(d.routes.find((r) => r.route === 'orders/{id}')).toMatchObject({ pool: 'main', failed: 1, errorRate: 1 });
    expect(d.events.map((e) => e.type)).toEqual(expect.arrayContaining(['worker.started', 'message.dead_lettered']));
    expect(d.sessions.map((x) => `${x.pool}/${x.slot}/${x.state}`).sort()).toEqual(['main/0/live', 'work/0/live']);
    expect(d.limits).toMatchObject({ pointsPerSeries: 900, events: 200 });
  });

  it('scales, restarts a worker and reloads through POST /control, with the token in the header only', async () => {
    const base = await serve({ HEALTH_HTTP_TOKEN: TOKEN });
    const control = `${base}/control`;
    const post = (body: unknown, token: string | null = TOKEN, url = control): Promise<Answer> =>
      call(url, { method: 'POST', body: JSON.stringify(body), ...(token ? { token } : {}) });
    const scale = { cmd: 'scale', pool: 'work', count: 2 };

    for (const refused of [
      await post(scale, null),
      await post(scale, 'wrong'),
      await post(scale, null, `${control}?token=${TOKEN}`),
    ]) {
      expect(refused).toMatchObject({ status: 401, body: { code: 'RMQ_ERR_HTTP_UNAUTHORIZED' } });
    }
    expect(await call(control, { token: TOKEN })).toMatchObject({ status: 405 });
    for (const bad of [{ cmd: 'stop' }, { cmd: 'status' }, { cmd: 'scale', pool: 'work' }, 'x']) {
      expect(await post(bad), JSON.stringify(bad)).toMatchObject({
        status: 400,
        body: { code: 'RMQ_ERR_CONTROL_INVALID' },
      });
    }
    expect(await post({ cmd: 'scale', pool: 'nope', count: 2 })).toMatchObject({
      status: 404,
      body: { code: 'RMQ_ERR_POOL_NOT_FOUND' },
    });
    expect(await post({ cmd: 'scale', pool: 'work', count: 0 })).toMatchObject({
      status: 400,
      body: { code: 'RMQ_ERR_ROUTE_OPTION_INVALID' },
    });
    expect(await post({ cmd: 'restart-worker', workerId: 'work-9' })).toMatchObject({
      status: 404,
      body: { code: 'RMQ_ERR_WORKER_NOT_FOUND' },
    });

    const scaled = await post(scale);
    expect(scaled.status).toBe(200);
    expect((scaled.body as unknown as HealthSnapshot).pools[0]).toMatchObject({ name: 'work', desired: 2 });

    const before = (await call<HealthSnapshot>(`${base}/status`, { token: TOKEN })).body;
    const oldPid = before.workers.find((w) => w.workerId === 'work-0')?.pid;
    expect((await post({ cmd: 'restart-worker', workerId: 'work-0' })).status).toBe(200);
    const after = (await call<HealthSnapshot>(`${base}/status`, { token: TOKEN })).body;
    expect(after.workers.find((w) => w.workerId === 'work-0')?.pid).not.toBe(oldPid);

    expect((await post({ cmd: 'reload' })).status).toBe(200);
    // The refused `stop` did not stop anything.
    expect((await call(`${base}/ready`, { token: TOKEN })).status).toBe(200);
  });

  it('refuses every action when no HEALTH_HTTP_TOKEN is set', async () => {
    const base = await serve();
    const answer = await call(`${base}/control`, {
      method: 'POST',
      body: JSON.stringify({ cmd: 'scale', pool: 'work', count: 2 }),
    });
    expect(answer).toMatchObject({ status: 403, body: { code: 'RMQ_ERR_HTTP_TOKEN_REQUIRED' } });
    const status = (await call<HealthSnapshot>(`${base}/status`)).body;
    expect(status.pools[0]?.desired).toBe(1);
  });
});
