import type { IPublishPacket } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { Dispatcher } from '../../src/message/dispatcher.js';
import { messageKey } from '../../src/message/message-key.js';
import { Router } from '../../src/router/router.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { CrashLedger } from '../../src/worker/crash-ledger.js';
import type { WorkerMessage } from '../../src/worker/ipc.js';
import { reportRedeliveries } from '../../src/worker/redelivery-report.js';

// Crash-poison detection without processes: the main process's bounded count of deaths per (slot, message), and
// the worker's side, which reports redelivered messages in hand before their handlers run and dead-letters the
// ones counted ROUTEMQ_MAX_CRASHES times.

function packet(topic: string, payload: string, messageId: number, dup: boolean): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup, messageId };
}

describe('messageKey', () => {
  it('is the same for a redelivery (DUP, same packet id) and differs when the id, topic or payload does', () => {
    const first = messageKey(packet('t/a', '{"kill":true}', 7, false));
    expect(messageKey(packet('t/a', '{"kill":true}', 7, true))).toBe(first);
    expect(messageKey(packet('t/a', '{"kill":true}', 8, true))).not.toBe(first);
    expect(messageKey(packet('t/b', '{"kill":true}', 7, true))).not.toBe(first);
    expect(messageKey(packet('t/a', '{"kill":false}', 7, true))).not.toBe(first);
  });
});

describe('CrashLedger', () => {
  it('counts one death per message per death, per slot, and hands out those counted maxCrashes times', () => {
    const ledger = new CrashLedger({ maxCrashes: 2, now: () => 0 });
    expect(ledger.recordDeath('p', 0, ['a', 'b', 'a'])).toEqual([
      { key: 'a', deaths: 1 },
      { key: 'b', deaths: 1 },
    ]);
    expect(ledger.poisoned('p', 0)).toEqual([]);
    expect(ledger.recordDeath('p', 0, ['a'])).toEqual([{ key: 'a', deaths: 2 }]);
    expect(ledger.poisoned('p', 0)).toEqual([['a', 2]]);
    // Another slot's, or another pool's, deaths are their own.
    expect(ledger.poisoned('p', 1)).toEqual([]);
    expect(ledger.poisoned('q', 0)).toEqual([]);
    ledger.recordDeath('p', 1, ['a']);
    expect(ledger.deaths('p', 1, 'a')).toBe(1);
  });

  it('forgets a message once it is acked', () => {
    const ledger = new CrashLedger({ maxCrashes: 1, now: () => 0 });
    ledger.recordDeath('p', 0, ['a']);
    expect(ledger.poisoned('p', 0)).toEqual([['a', 1]]);
    ledger.forget('p', 0, 'a');
    expect([ledger.poisoned('p', 0), ledger.size]).toEqual([[], 0]);
  });

  it('keeps at most maxEntries identities, forgetting the least recently counted first', () => {
    const ledger = new CrashLedger({ maxCrashes: 2, maxEntries: 3, now: () => 0 });
    ledger.recordDeath('p', 0, ['a', 'b', 'c']);
    ledger.recordDeath('p', 0, ['a']); // a is now the most recent
    ledger.recordDeath('p', 0, ['d']);
    expect(ledger.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((k) => ledger.deaths('p', 0, k))).toEqual([2, 0, 1, 1]);
  });

  it('forgets an identity ttlMs after its last death: it then starts over from 0', () => {
    let now = 0;
    const ledger = new CrashLedger({ maxCrashes: 2, ttlMs: 1000, now: () => now });
    ledger.recordDeath('p', 0, ['a']);
    now = 999;
    ledger.recordDeath('p', 0, ['b']);
    expect(ledger.deaths('p', 0, 'a')).toBe(1);
    now = 1000;
    expect(ledger.recordDeath('p', 0, ['a'])).toEqual([{ key: 'a', deaths: 1 }]);
    now = 1999;
    expect(ledger.poisoned('p', 0)).toEqual([]);
    expect([ledger.deaths('p', 0, 'a'), ledger.deaths('p', 0, 'b'), ledger.size]).toEqual([1, 0, 1]);
  });

  it('is in memory only: a new main process (a new ledger) starts every count over', () => {
    const before = new CrashLedger({ maxCrashes: 2, now: () => 0 });
    before.recordDeath('p', 0, ['a']);
    before.recordDeath('p', 0, ['a']);
    expect(before.poisoned('p', 0)).toEqual([['a', 2]]);
    const after = new CrashLedger({ maxCrashes: 2, now: () => 0 });
    expect(after.poisoned('p', 0)).toEqual([]);
  });
});

describe('a worker watching its redelivered messages', () => {
  function setup(crashed: [string, number][] = []): {
    dispatcher: Dispatcher;
    sent: WorkerMessage[];
    runs: { id: string; sentBefore: number }[];
    acked: number[];
    published: { topic: string; payload: unknown }[];
  } {
    const sent: WorkerMessage[] = [];
    const runs: { id: string; sentBefore: number }[] = [];
    const acked: number[] = [];
    const published: { topic: string; payload: unknown }[] = [];
    const router = new Router();
    router.on('t/{id}', (ctx) => void runs.push({ id: ctx.params.id, sentBefore: sent.length }), { maxAttempts: 3 });
    const dispatcher = new Dispatcher({
      table: compileRoutes(router, { defaultGroup: 'g' }),
      ack: (p) => (acked.push(p.messageId ?? -1), true),
      publish: (topic, payload) => (published.push({ topic, payload }), Promise.resolve()),
      concurrency: 8,
      limits: { maxBytes: 1024, maxDepth: 8 },
      defaults: { timeoutMs: 1000, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 40, dlqPrefix: 'dlq' },
      logger: silentLogger(),
      redelivered: reportRedeliveries((m) => sent.push(m), crashed, 2),
    });
    return { dispatcher, sent, runs, acked, published };
  }

  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

  it('sends nothing for a first delivery (no DUP): the hot path has no IPC', async () => {
    const h = setup();
    for (let i = 1; i <= 3; i++) void h.dispatcher.onPacket(packet(`t/${i}`, '{}', i, false), 1);
    await settle();
    expect([h.runs.length, h.acked, h.sent]).toEqual([3, [1, 2, 3], []]);
  });

  it('reports a redelivered message in hand before its handler runs, and when it settles', async () => {
    const h = setup();
    const p = packet('t/r', '{}', 5, true);
    void h.dispatcher.onPacket(p, 1);
    await settle();
    const key = messageKey(p);
    expect(h.runs).toEqual([{ id: 'r', sentBefore: 1 }]);
    expect(h.sent).toEqual([
      { type: 'message.started', key },
      { type: 'message.settled', key, acked: true },
    ]);
    expect(h.acked).toEqual([5]);
  });

  it('dead-letters a redelivered message counted maxCrashes times without running it; the others run', async () => {
    const poison = packet('t/p', '{"kill":true}', 9, true);
    const key = messageKey(poison);
    const h = setup([[key, 2]]);
    void h.dispatcher.onPacket(poison, 1);
    void h.dispatcher.onPacket(packet('t/g', '{}', 10, true), 1);
    await settle();
    await settle();
    expect(h.runs.map((r) => r.id)).toEqual(['g']);
    expect(h.acked).toEqual([9, 10]);
    expect(h.published).toHaveLength(1);
    const envelope = JSON.parse(String(h.published[0]?.payload)) as Record<string, unknown>;
    expect(envelope).toMatchObject({
      topic: 't/p',
      attempts: 2,
      error: { code: 'RMQ_ERR_HANDLER_CRASHED' },
      payload: '{"kill":true}',
    });
    // Never reported as started (it did not run); settled and acked, so the parent forgets it.
    expect(h.sent.filter((m) => m.type === 'message.started' && m.key === key)).toEqual([]);
    expect(h.sent).toContainEqual({ type: 'message.settled', key, acked: true });
  });
});
