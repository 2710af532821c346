import { fileURLToPath } from 'node:url';
import parsePrometheus from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import type { HealthSnapshot } from '../../src/health/health-monitor.js';
import { freePort } from '../helpers/broker.js';
import { useFixture } from '../helpers/fixture.js';
import { publishMany, waitUntil } from '../helpers/mqtt.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/dlq/routers', import.meta.url));

/** The value of one sample of `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = parsePrometheus(text).find((m) => m.name === name);
  const found = family?.metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => (m as { labels?: Record<string, string> }).labels?.[k] === v),
  );
  return found && 'value' in found ? Number(found.value) : undefined;
}

describe('dead-letter metrics', () => {
  const f = useFixture({
    routers: ROUTERS,
    env: {
      HEALTH_HTTP_ENABLED: 'true',
      METRICS_HTTP_ENABLED: 'true',
      ROUTEMQ_HEALTH_INTERVAL_MS: '300',
      ROUTEMQ_HEARTBEAT_INTERVAL_MS: '200',
    },
  });

  it('counts dead letters per route and code, store size and refusals; a worker restart never lowers a counter', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // No copy fits in 256 bytes: every MQTT copy is refused as too large, while the store keeps each dead letter.
    await f.serve(
      f.env({ HEALTH_HTTP_PORT: String(port), ROUTEMQ_STATE_DIR: f.mkdir('state'), ROUTEMQ_DLQ_MQTT_MAX_BYTES: '256' }),
    );
    const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
    const client = await f.connect();
    await publishMany(client, 5, (i) => ({ topic: `dl/first-${i}`, payload: `{"i":${i}}` }));

    const route = 'dl/{id}';
    const code = 'RMQ_ERR_HANDLER_FAILED';
    const stored = (text: string): number | undefined => sample(text, 'routemq_dead_letters_total', { route, code });
    await waitUntil(async () => stored(await metrics()) === 5, 20_000, '5 dead letters counted');
    let text = await metrics();
    expect(sample(text, 'routemq_dead_letter_store_entries')).toBe(5);
    expect(sample(text, 'routemq_dead_letter_store_bytes')).toBeGreaterThan(5 * 100);
    expect(sample(text, 'routemq_dead_letter_store_max_entries')).toBe(100_000);
    expect(sample(text, 'routemq_dead_letter_store_full')).toBe(0);
    await waitUntil(
      async () => sample(await metrics(), 'routemq_dead_letter_refusals_total', { route, reason: 'too-large' }) === 5,
      10_000,
      '5 refused copies',
    );
    // The workers' own counters reach the main process with their next stats message.
    await waitUntil(
      async () => sample(await metrics(), 'routemq_messages_dead_lettered_total', { route }) === 5,
      10_000,
      'the worker’s count',
    );

    // Without HEALTH_HTTP_TOKEN, reads are open like /status, but replays and purges are refused.
    const list = await fetch(`${base}/dead-letters`);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { total: number }).total).toBe(5);
    for (const [method, path, body] of [
      ['POST', '/dead-letters/replay', '{"all":true}'],
      ['DELETE', '/dead-letters?all=true', undefined],
    ] as const) {
      const refused = await fetch(`${base}${path}`, {
        method,
        ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
      });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ code: 'RMQ_ERR_HTTP_TOKEN_REQUIRED' });
    }

    // Kill the worker that stored them (through the main process); its replacement starts from zero.
    const status = async (): Promise<HealthSnapshot> =>
      (await (await fetch(`${base}/status`)).json()) as HealthSnapshot;
    const victim = (await status()).workers[0];
    process.kill(victim?.pid as number, 'SIGKILL');
    await waitUntil(
      async () => (await status()).workers.some((w) => w.status === 'ready' && w.pid !== victim?.pid),
      20_000,
      'a restarted worker',
    );
    text = await metrics();
    expect(stored(text)).toBe(5);
    expect(sample(text, 'routemq_messages_dead_lettered_total', { route })).toBe(5);
    expect(sample(text, 'routemq_dead_letter_store_entries')).toBe(5);

    await publishMany(client, 3, (i) => ({ topic: `dl/second-${i}`, payload: `{"i":${i}}` }));
    await waitUntil(async () => stored(await metrics()) === 8, 20_000, '8 dead letters counted');
    await waitUntil(
      async () => sample(await metrics(), 'routemq_messages_dead_lettered_total', { route }) === 8,
      10_000,
      'the restarted worker’s count added',
    );
    text = await metrics();
    expect(sample(text, 'routemq_dead_letter_store_entries')).toBe(8);
    expect(sample(text, 'routemq_dead_letters_total', { route, code: 'RMQ_ERR_HANDLER_CRASHED' })).toBeUndefined();
  });
});
