import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DeadLetterEnvelope } from '../../src/index.js';
import { useFixture } from '../helpers/fixture.js';
import { uniqueName, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/ratelimit/routers', import.meta.url));

// A real app: 2 workers, limits counted in the real Redis on 127.0.0.1:6379.
describe('rate-limited routes in a worker pool', () => {
  const f = useFixture({ routers: ROUTERS });

  it('holds one limit over both workers, delays or dead-letters what is over it, and loses nothing', async () => {
    const env = f.env({
      ENABLE_REDIS: 'true',
      ROUTEMQ_REDIS_PREFIX: f.prefix('rmqrla'),
      RL_MAX: '10',
      RL_WINDOW_MS: '500',
      RD_MAX: '10',
    });
    const seenFile = env.SEEN_FILE;
    const app = await f.serve(env);
    const client = await f.connect({ clientId: uniqueName('pub') });
    const dead: DeadLetterEnvelope[] = [];
    client.on('message', (_topic, payload) => dead.push(JSON.parse(payload.toString()) as DeadLetterEnvelope));
    await client.subscribeAsync('routemq/dlq/#', { qos: 1 });

    const delayed = Array.from({ length: 60 }, (_, i) => `d${i}`);
    const dropped = Array.from({ length: 30 }, (_, i) => `x${i}`);
    await Promise.all([
      ...delayed.map((id) => client.publishAsync(`rl/${id}`, '{}', { qos: 1 })),
      ...dropped.map((id) => client.publishAsync(`rd/${id}`, '{}', { qos: 1 })),
    ]);
    await waitUntil(
      () => readSeen(seenFile).filter((s) => s.route === 'rl').length >= 60 && dead.length >= 20,
      30_000,
      'every delayed message handled and every refused one dead-lettered',
    );
    const seen = readSeen(seenFile);
    const rl = seen.filter((s) => s.route === 'rl');
    const rd = seen.filter((s) => s.route === 'rd');

    // Delay: nothing lost, and both workers together kept to 10 per 500 ms window: 60 messages span ≥ 5 windows.
    expect(check(delayed, rl)).toMatchObject({ lost: [], unexpected: [] });
    expect(new Set(rl.map((s) => s.pid)).size).toBe(2);
    const times = rl.map((s) => Number(s.version)).sort((a, b) => a - b);
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(4 * 500 - 50);

    // Dead letter: exactly 10 handled over both workers, the other 20 in the DLQ at their first try; none lost.
    expect(rd).toHaveLength(10);
    expect(dead).toHaveLength(20);
    for (const envelope of dead) {
      expect(envelope.error.code).toBe('RMQ_ERR_RATE_LIMITED');
      expect(envelope.attempts).toBe(1);
    }
    const deadIds = dead.map((e) => e.topic.split('/')[1] ?? '');
    expect(check(dropped, [...rd, ...deadIds.map((id) => ({ ...rd[0]!, id }))])).toMatchObject({
      lost: [],
      duplicated: [],
      unexpected: [],
    });
    expect((await app.stop()).code).toBe(0);
  }, 90_000);
});
