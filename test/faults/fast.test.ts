import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import { useFixture } from '../helpers/fixture.js';
import { steadyPublisher } from '../helpers/load.js';
import { collect, publishMany, waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import type { SpawnedApp } from '../helpers/spawn-app.js';
import { deadLetterIds, report, verdict } from '../helpers/checker.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/faults/routers', import.meta.url));

// The fast scenarios of the fault suite (issue "Fault suite"), run in `npm test`. Each prints one line:
// scenario, published, lost, duplicated, unexpected, duration.
describe('fault suite: fast scenarios', () => {
  const f = useFixture({ routers: ROUTERS });

  async function start(
    extra: Record<string, string> = {},
  ): Promise<{ app: SpawnedApp; seenFile: string; client: MqttClient }> {
    const env = f.env(extra);
    const app = await f.serve(env);
    return { app, seenFile: env.SEEN_FILE, client: await f.connect() };
  }

  it('1. baseline: 20k messages over 4 workers, none duplicated, each worker 25% ± 3%', async () => {
    const startedAt = Date.now();
    const { app, seenFile, client } = await start({ FAULTS_WORKERS: '4' });
    const ids = Array.from({ length: 20_000 }, (_, i) => `b${i}`);
    await publishMany(client, ids.length, (i) => ({ topic: `fa/${ids[i] as string}`, payload: '{}' }), 200);
    await waitUntil(() => readSeen(seenFile).length >= ids.length, 60_000, 'every message handled');
    const seen = readSeen(seenFile);
    const v = verdict(ids, seen);
    report('1-baseline', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.duplicated).toEqual([]);
    expect(v.unexpected).toEqual([]);
    const perWorker = new Map<number, number>();
    for (const s of seen) perWorker.set(s.pid, (perWorker.get(s.pid) ?? 0) + 1);
    expect(perWorker.size).toBe(4);
    for (const n of perWorker.values()) expect(Math.abs(n / ids.length - 0.25)).toBeLessThanOrEqual(0.03);
    expect((await app.stop()).code).toBe(0);
  });

  it('4. control: clean sessions are refused on Mosquitto, and only run with a loud warning when forced', async () => {
    const startedAt = Date.now();
    const base = f.env({ MQTT_CLEAN_SESSION: 'true', FAULTS_WORKERS: '1' });
    const refused = f.spawn(['start'], base);
    expect((await refused.exited).code).toBe(1);
    expect(refused.lines.join('\n')).toMatch(
      /RMQ_ERR_CLEAN_SESSION_REFUSED: MQTT_CLEAN_SESSION=true on mosquitto version 2/,
    );
    const forced = f.spawn(['start'], { ...base, ROUTEMQ_ALLOW_CLEAN_SESSION: 'true' });
    const warning = await forced.waitForLog((l) =>
      String(l['msg']).includes('at-least-once delivery is NOT guaranteed'),
    );
    expect(warning['level']).toBe(40);
    await forced.waitForLog((l) => l['msg'] === 'RouteMQ is serving');
    expect((await forced.stop()).code).toBe(0);
    report('4-clean-session-refused', verdict([], []), startedAt);
  });

  it('4. control: with clean sessions forced, a worker killed -9 takes its in-flight messages with it (Mosquitto)', async () => {
    const startedAt = Date.now();
    const { app, seenFile, client } = await start({
      FAULTS_WORKERS: '2',
      MQTT_CLEAN_SESSION: 'true',
      ROUTEMQ_ALLOW_CLEAN_SESSION: 'true',
      MQTT_RECEIVE_MAXIMUM: '32',
    });
    const victim = app.logs().find((l) => l['msg'] === 'worker started' && l['slot'] === 0)?.['workerPid'] as number;
    const load = steadyPublisher(client, {
      topic: (id) => `fa/${id}`,
      ratePerSec: 400,
      total: 2000,
      payload: '{"delayMs":50}',
    });
    await waitUntil(() => readSeen(seenFile).length >= 300, 20_000, '300 deliveries');
    process.kill(victim, 'SIGKILL');
    await load.done;
    // Let everything that can still arrive arrive.
    let count = -1;
    while (readSeen(seenFile).length !== count) {
      count = readSeen(seenFile).length;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const v = verdict(load.acked, readSeen(seenFile));
    report('4-control-clean-session-loss', v, startedAt);
    // This is the loss RouteMQ refuses to start into by default (eclipse-mosquitto/mosquitto#2662).
    expect(v.lost.length).toBeGreaterThan(0);
    expect(v.lost.length).toBeLessThanOrEqual(32);
    expect((await app.stop()).code).toBe(0);
  });

  it('11. 50 poison messages among good ones: at most maxAttempts tries, then the DLQ; good ones keep flowing', async () => {
    const startedAt = Date.now();
    const { app, seenFile, client } = await start({
      FAULTS_WORKERS: '2',
      ROUTEMQ_RETRY_BASE_MS: '10',
      ROUTEMQ_RETRY_MAX_MS: '50',
    });
    const dlq = await collect(client, 'routemq/dlq/#');
    const ids = Array.from({ length: 550 }, (_, i) => (i % 11 === 5 ? `poison${i}` : `good${i}`));
    await publishMany(
      client,
      ids.length,
      (i) => {
        const id = ids[i] as string;
        return { topic: `fa/${id}`, payload: id.startsWith('poison') ? '{"fail":true}' : '{}' };
      },
      20,
    );
    await dlq.waitFor(50, 30_000);
    await waitUntil(() => readSeen(seenFile).length >= 500, 30_000, 'the good messages');
    const envelopes = dlq.messages.map((m) => JSON.parse(m.payload.toString()) as DeadLetterEnvelope);
    const v = verdict(ids, readSeen(seenFile), deadLetterIds(envelopes));
    report('11-poison', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.duplicated).toEqual([]);
    expect(new Set(deadLetterIds(envelopes))).toEqual(new Set(ids.filter((id) => id.startsWith('poison'))));
    expect(envelopes.every((e) => e.attempts === 3 && e.error.code === 'RMQ_ERR_HANDLER_FAILED')).toBe(true);
    expect((await app.stop()).code).toBe(0);
  });

  it('14. 10 MB, invalid UTF-8, 1e6-deep JSON and __proto__ go to the DLQ with their codes; the worker survives unpolluted', async () => {
    const startedAt = Date.now();
    const { app, seenFile, client } = await start({
      FAULTS_WORKERS: '1',
      ROUTEMQ_MAX_PAYLOAD_BYTES: String(4 * 1024 * 1024),
    });
    const dlq = await collect(client, 'routemq/dlq/#');
    const bad: [string, Buffer, string][] = [
      ['large', Buffer.alloc(10 * 1024 * 1024, 0x20), 'RMQ_ERR_PAYLOAD_TOO_LARGE'],
      ['utf8', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), 'RMQ_ERR_PAYLOAD_NOT_UTF8'],
      ['deep', Buffer.from('['.repeat(1_000_000) + ']'.repeat(1_000_000)), 'RMQ_ERR_PAYLOAD_TOO_DEEP'],
      ['proto', Buffer.from('{"__proto__":{"x":1},"n":1}'), 'RMQ_ERR_PAYLOAD_FORBIDDEN_KEY'],
    ];
    for (const [id, payload] of bad) await client.publishAsync(`fs/${id}`, payload, { qos: 1 });
    await dlq.waitFor(bad.length, 30_000);
    await client.publishAsync('fs/after', '{"n":1}', { qos: 1 });
    await waitUntil(
      () => readSeen(seenFile).some((s) => s.id === 'after'),
      10_000,
      'a good message after the bad ones',
    );
    const envelopes = dlq.messages.map((m) => JSON.parse(m.payload.toString()) as DeadLetterEnvelope);
    const codes = Object.fromEntries(envelopes.map((e) => [e.topic.split('/')[1], e.error.code]));
    expect(codes).toEqual(Object.fromEntries(bad.map(([id, , code]) => [id, code])));
    const v = verdict([...bad.map(([id]) => id), 'after'], readSeen(seenFile), deadLetterIds(envelopes));
    report('14-bad-payloads', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(readSeen(seenFile).find((s) => s.id === 'after')?.version).toBe('clean');
    expect(app.logs().filter((l) => l['msg'] === 'worker exited unexpectedly')).toEqual([]);
    expect((await app.stop()).code).toBe(0);
  });

  it.each([
    ['a/#', 'a/#'],
    ['x/+', 'x/+'],
    ['g$', 'g$'],
    ['a NUL', 'a\u0000b'],
    ['65 characters', 'g'.repeat(65)],
  ])('15. refuses the group name %s at start with RMQ_ERR_CONFIG_INVALID', async (label, group) => {
    const startedAt = Date.now();
    // A NUL cannot travel in an environment variable, so the group comes from an env file.
    const envFile = f.path('env', '.env');
    writeFileSync(envFile, `MQTT_GROUP_NAME="${group}"\n`);
    const app = f.spawn(['start', '--env-file', envFile], f.env({ MQTT_GROUP_NAME: undefined }));
    expect((await app.exited).code).toBe(1);
    expect(app.lines.join('\n')).toMatch(/RMQ_ERR_CONFIG_INVALID[\s\S]*MQTT_GROUP_NAME/);
    report(`15-group-refused (${label})`, verdict([], []), startedAt);
  });
});
