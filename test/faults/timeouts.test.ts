import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DeadLetterEnvelope } from '../../src/message/dead-letter.js';
import { useFixture } from '../helpers/fixture.js';
import { isAlive, steadyPublisher } from '../helpers/load.js';
import { collect, waitUntil } from '../helpers/mqtt.js';
import { readSeen } from '../helpers/seen.js';
import { deadLetterIds, report, verdict } from '../helpers/checker.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/faults/routers', import.meta.url));
const RECEIVE_MAXIMUM = 32;

describe('fault suite: hung handlers', () => {
  const f = useFixture({ routers: ROUTERS, env: { MQTT_RECEIVE_MAXIMUM: String(RECEIVE_MAXIMUM) } });

  it('5b. SIGTERM while a handler hangs past the deadline: the stop is forced in time, the message comes back, nothing lost', async () => {
    const startedAt = Date.now();
    const e = f.env({ FAULTS_WORKERS: '1', ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '2000', ROUTEMQ_KILL_TIMEOUT_MS: '1000' });
    const first = await f.serve(e);
    const workerPids = first.logs().flatMap((l) => (l['msg'] === 'worker started' ? [l['workerPid'] as number] : []));
    const publisher = await f.connect();
    const load = steadyPublisher(publisher, { topic: (id) => `fa/${id}`, ratePerSec: 400, total: 2000 });
    await waitUntil(() => readSeen(e.SEEN_FILE).length >= 500, 20_000, '500 deliveries');
    // Acks go out in arrival order, so the hung message also holds back the acks of the (at most
    // receive-maximum) messages after it: those are handled again after the restart.
    await publisher.publishAsync('fa/hang', '{"hangOnce":true}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const stopAt = Date.now();
    const exit = await first.stop(20_000);
    expect(exit.code).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(2000 + 3000);
    expect(workerPids.filter(isAlive)).toEqual([]);

    const second = await f.serve(e);
    await load.done;
    const acked = ['hang', ...load.acked];
    await waitUntil(() => verdict(acked, readSeen(e.SEEN_FILE)).lost.length === 0, 30_000, 'every id handled');
    const v = verdict(acked, readSeen(e.SEEN_FILE));
    report('5b-sigterm-hung-handler', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.duplicated.length).toBeLessThanOrEqual(RECEIVE_MAXIMUM);
    expect(readSeen(e.SEEN_FILE).find((s) => s.id === 'hang')?.dup).toBe(true);
    expect((await second.stop()).code).toBe(0);
  });

  it('7b. scale-down while a handler hangs past the drain deadline: the leaving session ends only once its messages settled (DLQ), nothing lost', async () => {
    const startedAt = Date.now();
    const socket = f.path('ctl', '.sock');
    const e = f.env({
      FAULTS_WORKERS: '2',
      ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '1000',
      ROUTEMQ_HANDLER_TIMEOUT_MS: '1500',
      ROUTEMQ_RETRY_MAX_MS: '200',
      ROUTEMQ_CONTROL_SOCKET: socket,
    });
    const app = await f.serve(e);
    const publisher = await f.connect();
    const dead = await collect(publisher, 'routemq/dlq/#');
    // Round robin: one hanging message lands on each worker, so the slot that leaves holds one.
    await publisher.publishAsync('fa/h1', '{"hangOnce":true}', { qos: 1 });
    await publisher.publishAsync('fa/h2', '{"hangOnce":true}', { qos: 1 });
    const load = steadyPublisher(publisher, { topic: (id) => `fa/${id}`, ratePerSec: 200, total: 1000 });
    await new Promise((r) => setTimeout(r, 300));
    const scale = f.spawn(['scale', 'faults', '1', '--socket', socket], e);
    expect((await scale.exited).code).toBe(0);
    await load.done;
    const dlqIds = (): string[] =>
      deadLetterIds(dead.messages.map((m) => JSON.parse(m.payload.toString()) as DeadLetterEnvelope));
    const acked = ['h1', 'h2', ...load.acked];
    await waitUntil(
      () => verdict(acked, readSeen(e.SEEN_FILE), dlqIds()).lost.length === 0,
      30_000,
      'every id settled',
    ).catch((err: unknown) => {
      // Seen once in `npm run test:loaded` (not reproduced alone): say which ids, and what the app warned about.
      const lost = verdict(acked, readSeen(e.SEEN_FILE), dlqIds()).lost;
      const warnings = app.lines.filter((l) => /"level":(40|50)|pool scaled/.test(l)).slice(-40);
      process.stdout.write(`scenario 7b diagnostics: lost ${lost.length}: ${lost.slice(0, 40).join(',')}\n`);
      process.stdout.write(`${warnings.join('\n')}\n`);
      throw err;
    });
    const v = verdict(acked, readSeen(e.SEEN_FILE), dlqIds());
    report('7b-scale-down-hung-handler', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(dlqIds()).toEqual(expect.arrayContaining(['h1', 'h2']));
    // The pool did shrink, and one of the hung messages settled (dead-lettered) in the slot that left.
    expect(app.logs().some((l) => l['msg'] === 'pool scaled' && l['to'] === 1)).toBe(true);
    const settledIn = app
      .logs()
      .filter(
        (l) => String(l['msg']).startsWith('message dead-lettered') && ['fa/h1', 'fa/h2'].includes(String(l['topic'])),
      )
      .map((l) => l['slot']);
    expect(settledIn).toContain(1);
    expect(app.logs().filter((l) => l['level'] === 50)).toEqual([]);
    expect((await app.stop()).code).toBe(0);
  });

  it('5c. SIGTERM while a handler busy-loops: the parent escalates to SIGKILL after the deadline, the message comes back', async () => {
    const startedAt = Date.now();
    const e = f.env({ FAULTS_WORKERS: '1', ROUTEMQ_SHUTDOWN_TIMEOUT_MS: '2000', ROUTEMQ_KILL_TIMEOUT_MS: '1000' });
    const first = await f.serve(e);
    const workerPids = first.logs().flatMap((l) => (l['msg'] === 'worker started' ? [l['workerPid'] as number] : []));
    const publisher = await f.connect();
    const load = steadyPublisher(publisher, { topic: (id) => `fa/${id}`, ratePerSec: 400, total: 2000 });
    await waitUntil(() => readSeen(e.SEEN_FILE).length >= 500, 20_000, '500 deliveries');
    await publisher.publishAsync('fa/spin', '{"loopOnce":true}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    const stopAt = Date.now();
    const exit = await first.stop(20_000);
    const stopMs = Date.now() - stopAt;
    expect(exit.code).toBe(0);
    // The blocked worker ignores the shutdown message and SIGTERM: only the SIGKILL at drain + 2 × kill timeout ends it.
    expect(stopMs).toBeGreaterThanOrEqual(2000 + 2 * 1000 - 200);
    expect(stopMs).toBeLessThan(2000 + 2 * 1000 + 2000);
    expect(workerPids.filter(isAlive)).toEqual([]);

    const second = await f.serve(e);
    await load.done;
    const acked = ['spin', ...load.acked];
    await waitUntil(() => verdict(acked, readSeen(e.SEEN_FILE)).lost.length === 0, 30_000, 'every id handled');
    const v = verdict(acked, readSeen(e.SEEN_FILE));
    report('5c-sigterm-busy-loop-sigkill', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(v.duplicated.length).toBeLessThanOrEqual(RECEIVE_MAXIMUM);
    expect(readSeen(e.SEEN_FILE).find((s) => s.id === 'spin')?.dup).toBe(true);
    expect((await second.stop()).code).toBe(0);
  });

  it('13. a 12 s handler with keepalive 10 s: the timeout (below keepalive/2) fires, retries end in the DLQ, no reconnect loop', async () => {
    const startedAt = Date.now();
    const e = f.env({
      FAULTS_WORKERS: '1',
      MQTT_KEEPALIVE_S: '10',
      ROUTEMQ_HANDLER_TIMEOUT_MS: '4000',
      ROUTEMQ_RETRY_BASE_MS: '50',
    });
    const app = await f.serve(e);
    const publisher = await f.connect();
    const dlq = await collect(publisher, 'routemq/dlq/#');
    await publisher.publishAsync('fa/slow', '{"delayMs":12000}', { qos: 1 });
    const load = steadyPublisher(publisher, { topic: (id) => `fa/${id}`, ratePerSec: 100, total: 1000 });
    await dlq.waitFor(1, 30_000);
    await load.done;
    const envelope = JSON.parse(dlq.messages[0]?.payload.toString() ?? '{}') as DeadLetterEnvelope;
    expect(envelope).toMatchObject({ topic: 'fa/slow', attempts: 3, error: { code: 'RMQ_ERR_HANDLER_TIMEOUT' } });
    const acked = ['slow', ...load.acked];
    await waitUntil(
      () => verdict(acked, readSeen(e.SEEN_FILE), deadLetterIds([envelope])).lost.length === 0,
      20_000,
      'the other messages',
    );
    // The first try of 'slow' finishes after 12 s and records itself too: seen and dead-lettered, as allowed.
    const v = verdict(acked, readSeen(e.SEEN_FILE), deadLetterIds([envelope]));
    report('13-long-handler', v, startedAt);
    expect(v.lost).toEqual([]);
    expect(app.logs().filter((l) => l['msg'] === 'MQTT connection lost')).toEqual([]);
    expect((await app.stop(30_000)).code).toBe(0);
  });
});
