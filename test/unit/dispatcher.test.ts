import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IPublishPacket } from 'mqtt';
import { z } from 'zod';
import { silentLogger } from '../../src/logger.js';
import { Dispatcher } from '../../src/message/dispatcher.js';
import type { DispatcherOptions } from '../../src/message/dispatcher.js';
import { Router } from '../../src/router/router.js';
import { compileRoutes } from '../../src/router/route-table.js';
import type { RouteDefinition, RouteTable } from '../../src/router/route-table.js';
import type { Handler, MessageContext, RouteOptions } from '../../src/index.js';

// The dispatcher's delivery contract, with fake timers and no broker: acks go out in arrival order once each
// message's handler settled; failures retry, then dead-letter; a timed-out try counts as failed; a message whose
// dead letter cannot be published stays unacked.

interface Harness {
  readonly dispatcher: Dispatcher;
  readonly table: RouteTable;
  readonly acked: number[];
  readonly published: { topic: string; payload: unknown }[];
}

let nextId = 1;

function packet(topic: string, payload: string, qos: 0 | 1 = 1): IPublishPacket {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, messageId: nextId++ };
}

function harness(
  handler: Handler,
  options: RouteOptions & { publishFails?: boolean } = {},
  extra: Partial<DispatcherOptions> = {},
): Harness {
  const router = new Router();
  const { publishFails, ...routeOptions } = options;
  router.on('t/{id}', handler, routeOptions);
  const table = compileRoutes(router, { defaultGroup: 'g' });
  const acked: number[] = [];
  const published: { topic: string; payload: unknown }[] = [];
  const dispatcher = new Dispatcher({
    table,
    ack: (p) => (acked.push(p.messageId ?? -1), true),
    publish: (topic, payload) => {
      if (publishFails) return Promise.reject(new Error('broker gone'));
      published.push({ topic, payload });
      return Promise.resolve();
    },
    concurrency: 8,
    limits: { maxBytes: 1024, maxDepth: 8 },
    defaults: { timeoutMs: 1000, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 40, dlqPrefix: 'dlq' },
    logger: silentLogger(),
    ...extra,
  });
  return { dispatcher, table, acked, published };
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Dispatcher', () => {
  it('acks in arrival order, each only after its handler settled', async () => {
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const h = harness((ctx) => {
      const gate = deferred();
      gates.set(ctx.topic, gate);
      return gate.promise;
    });
    const [a, b] = [packet('t/a', '{}'), packet('t/b', '{}')];
    void h.dispatcher.onPacket(a, 1);
    void h.dispatcher.onPacket(b, 1);
    expect(h.dispatcher.inFlight).toBe(2);
    gates.get('t/b')?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toEqual([]);
    gates.get('t/a')?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toEqual([a.messageId, b.messageId]);
    expect(h.dispatcher.stats().total).toMatchObject({ received: 2, handled: 2, failed: 0 });
  });

  it('is idle only once quiet since its last ack, not merely since its last packet (a held ack holds the window)', async () => {
    const gate = deferred();
    const h = harness(() => gate.promise, { timeoutMs: 60_000 });
    void h.dispatcher.onPacket(packet('t/held', '{}'), 1);
    // No packet for 2 s: the broker sends nothing while the unacked messages fill this session's window.
    await vi.advanceTimersByTimeAsync(2000);
    let idle: boolean | undefined;
    void h.dispatcher.waitUntilIdle(500, 10_000).then((v) => (idle = v));
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toHaveLength(1);
    // The ack just opened the window: what the broker queued for this session may still come.
    await vi.advanceTimersByTimeAsync(400);
    expect(idle).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    expect(idle).toBe(true);
  });

  it('gives the handler the decoded payload, params and context', async () => {
    const seen: MessageContext[] = [];
    const h = harness((ctx) => void seen.push(ctx));
    const p = packet('t/42', '{"v":1}');
    void h.dispatcher.onPacket(p, 1);
    await vi.advanceTimersByTimeAsync(0);
    const ctx = seen[0];
    expect(ctx).toMatchObject({ topic: 't/42', params: { id: '42' }, payload: { v: 1 }, qos: 1, attempt: 1 });
    expect(ctx?.raw.toString()).toBe('{"v":1}');
    expect(ctx?.signal.aborted).toBe(false);
    expect(h.acked).toEqual([p.messageId]);
  });

  it('sends no ack for QoS0', async () => {
    const h = harness(() => undefined);
    void h.dispatcher.onPacket(packet('t/a', '{}', 0), 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toEqual([]);
    expect(h.dispatcher.stats().total.handled).toBe(1);
  });

  it('runs each overlapping copy only for its own subscription, and no copy of a stale subscription', async () => {
    const router = new Router().on('a/+', () => undefined).on('a/#', () => undefined);
    const table = compileRoutes(router, { defaultGroup: 'g' });
    const [single, multi] = table.routes as [RouteDefinition, RouteDefinition];
    const acked: number[] = [];
    const dispatcher = new Dispatcher({
      table,
      ack: (p) => (acked.push(p.messageId ?? -1), true),
      publish: () => Promise.resolve(),
      concurrency: 8,
      limits: { maxBytes: 1024, maxDepth: 8 },
      defaults: { timeoutMs: 1000, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 40, dlqPrefix: 'dlq' },
      logger: silentLogger(),
    });
    const copy = (id: number): IPublishPacket => ({
      ...packet('a/b', '{}'),
      properties: { subscriptionIdentifier: id },
    });
    // The broker sends a/b once per matching subscription; only the winning filter's route (a/+) runs, on its copy.
    const forSingle = copy(single.subscriptionId);
    const forMulti = copy(multi.subscriptionId);
    // From a subscription this deploy no longer has (a removed route's, still in the resumed session): its
    // identifier names no route here. The current subscriptions deliver their own copies, so running it would run
    // the message twice.
    const stale = copy(7);
    for (const p of [forSingle, forMulti, stale]) void dispatcher.onPacket(p, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(dispatcher.stats().routes['a/+']?.handled).toBe(1);
    expect(dispatcher.stats().routes['a/#']).toBeUndefined();
    expect(dispatcher.stats().skipped).toBe(2);
    expect(acked).toEqual([forSingle.messageId, forMulti.messageId, stale.messageId]);
  });

  it('retries a failed try with backoff, then acks', async () => {
    const attempts: number[] = [];
    const h = harness((ctx) => {
      attempts.push(ctx.attempt);
      if (ctx.attempt === 1) throw new Error('flaky');
    });
    const p = packet('t/a', '{}');
    void h.dispatcher.onPacket(p, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toEqual([]);
    await vi.advanceTimersByTimeAsync(50);
    expect(attempts).toEqual([1, 2]);
    expect(h.acked).toEqual([p.messageId]);
    expect(h.dispatcher.stats().total).toMatchObject({ failed: 1, retried: 1, handled: 1, deadLettered: 0 });
  });

  it('dead-letters after maxAttempts, then acks', async () => {
    const h = harness(() => Promise.reject(new Error('always')), { maxAttempts: 2 });
    const p = packet('t/a', '{"v":1}');
    void h.dispatcher.onPacket(p, 1);
    await vi.advanceTimersByTimeAsync(200);
    expect(h.published).toHaveLength(1);
    expect(h.published[0]?.topic).toBe('dlq/t/{id}');
    expect(JSON.parse(String(h.published[0]?.payload))).toMatchObject({ topic: 't/a', attempts: 2 });
    expect(h.acked).toEqual([p.messageId]);
    expect(h.dispatcher.stats().total).toMatchObject({ failed: 2, retried: 1, deadLettered: 1, handled: 0 });
  });

  it('dead-letters a payload the schema refuses without running the handler', async () => {
    const handler = vi.fn();
    const h = harness(handler, { schema: z.object({ v: z.number() }) });
    const p = packet('t/a', '{"v":"no"}');
    void h.dispatcher.onPacket(p, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(handler).not.toHaveBeenCalled();
    expect(JSON.parse(String(h.published[0]?.payload))).toMatchObject({
      attempts: 1,
      error: { code: 'RMQ_ERR_PAYLOAD_SCHEMA' },
    });
    expect(h.acked).toEqual([p.messageId]);
  });

  it('waits for an asynchronous schema: acks in arrival order, dead-letters what it refuses in zod words', async () => {
    const seen: unknown[] = [];
    const gate = deferred();
    // An async refinement makes zod's Standard Schema validate() return a promise.
    const schema = z.object({ v: z.number() }).refine(async (p) => (await gate.promise, p.v > 0), 'v must be positive');
    const h = harness((ctx) => void seen.push(ctx.payload), { schema });
    const [good, bad, sync] = [packet('t/a', '{"v":1}'), packet('t/b', '{"v":-1}'), packet('t/c', '{"v":"x"}')];
    void h.dispatcher.onPacket(good, 1);
    void h.dispatcher.onPacket(bad, 1);
    void h.dispatcher.onPacket(sync, 1); // fails the sync part of the schema: refused before the refinement runs
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([]);
    expect(h.acked).toEqual([]); // the first two are still being validated: nothing after them is acked
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([{ v: 1 }]);
    expect(h.acked).toEqual([good.messageId, bad.messageId, sync.messageId]);
    const letters = h.published.map((m) => JSON.parse(String(m.payload)) as { topic: string; error: unknown });
    expect(letters.map((l) => l.topic).sort()).toEqual(['t/b', 't/c']);
    expect(letters.find((l) => l.topic === 't/b')?.error).toMatchObject({
      code: 'RMQ_ERR_PAYLOAD_SCHEMA',
      message: "payload failed the route's schema: (root): v must be positive",
    });
    expect(h.dispatcher.stats().total).toMatchObject({ received: 3, handled: 1, deadLettered: 2 });
  });

  it('leaves a message unacked when its dead letter cannot be published', async () => {
    const h = harness((ctx) => (ctx.topic === 't/a' ? Promise.reject(new Error('always')) : undefined), {
      maxAttempts: 1,
      publishFails: true,
    });
    const [a, b] = [packet('t/a', '{}'), packet('t/b', '{}')];
    void h.dispatcher.onPacket(a, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toEqual([]);
    // A held message does not hold back the acks behind it.
    void h.dispatcher.onPacket(b, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toEqual([b.messageId]);
    expect(h.dispatcher.inFlight).toBe(0);
  });

  it('times a try out, aborts its signal, and counts it as failed', async () => {
    let signal: AbortSignal | undefined;
    const h = harness(
      (ctx) => {
        signal = ctx.signal;
        return new Promise<void>(() => undefined);
      },
      { timeoutMs: 100, maxAttempts: 1 },
    );
    const p = packet('t/a', '{}');
    void h.dispatcher.onPacket(p, 1);
    await vi.advanceTimersByTimeAsync(50);
    expect(h.acked).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(signal?.aborted).toBe(true);
    expect(JSON.parse(String(h.published[0]?.payload))).toMatchObject({ error: { code: 'RMQ_ERR_HANDLER_TIMEOUT' } });
    expect(h.acked).toEqual([p.messageId]);
  });

  it('runs at most `concurrency` handlers; the others wait unacked, in order', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    const started: string[] = [];
    const h = harness(
      (ctx) => {
        started.push(ctx.topic);
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      },
      {},
      { concurrency: 1 },
    );
    const ps = ['t/1', 't/2', 't/3'].map((t) => packet(t, '{}'));
    for (const p of ps) void h.dispatcher.onPacket(p, 1);
    expect(started).toEqual(['t/1']);
    expect(h.dispatcher.stats().queued).toBe(2);
    gates[0]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['t/1', 't/2']);
    gates[1]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    gates[2]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.acked).toEqual(ps.map((p) => p.messageId));
  });

  it('reports the backlog of each route (running and waiting) and when its oldest message arrived', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    const h = harness(
      () => {
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      },
      {},
      { concurrency: 1 },
    );
    const t0 = Date.now();
    void h.dispatcher.onPacket(packet('t/1', '{}'), 1);
    await vi.advanceTimersByTimeAsync(500);
    void h.dispatcher.onPacket(packet('t/2', '{}'), 1);
    void h.dispatcher.onPacket(packet('t/3', '{}'), 1);
    expect(h.dispatcher.stats().backlog).toEqual({ 't/{id}': { messages: 3, oldestReceivedAt: t0 } });
    gates[0]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    // t/2 waited for its slot since t0 + 500.
    expect(h.dispatcher.stats().backlog).toEqual({ 't/{id}': { messages: 2, oldestReceivedAt: t0 + 500 } });
    gates[1]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    gates[2]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.dispatcher.stats().backlog).toEqual({});
  });

  it('asks the connection to pause past maxWaiting and resumes once the backlog halves', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    const h = harness(
      () => {
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      },
      {},
      { concurrency: 1, maxWaiting: 4 },
    );
    const results = Array.from({ length: 5 }, (_, i) => h.dispatcher.onPacket(packet(`t/${i}`, '{}', 0), 1));
    expect(results.slice(0, 4)).toEqual([undefined, undefined, undefined, undefined]);
    let resumed = false;
    void results[4]?.then(() => (resumed = true));
    for (let i = 0; i < 3 && !resumed; i++) {
      gates[i]?.resolve();
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(resumed).toBe(true);
  });

  it('leaves arrivals unacked while draining, and lets the handlers in flight finish', async () => {
    const gate = deferred();
    const h = harness(() => gate.promise);
    const a = packet('t/a', '{}');
    void h.dispatcher.onPacket(a, 1);
    const drained = h.dispatcher.drain(1000);
    void h.dispatcher.onPacket(packet('t/b', '{}'), 1);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    await expect(drained).resolves.toBe(true);
    expect(h.acked).toEqual([a.messageId]);
  });

  it('aborts the handlers in flight past the drain deadline and holds their messages', async () => {
    let signal: AbortSignal | undefined;
    const h = harness((ctx) => {
      signal = ctx.signal;
      return new Promise<void>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    void h.dispatcher.onPacket(packet('t/a', '{}'), 1);
    const drained = h.dispatcher.drain(100);
    await vi.advanceTimersByTimeAsync(150);
    await expect(drained).resolves.toBe(false);
    expect(signal?.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.acked).toEqual([]);
    expect(h.published).toEqual([]);
  });
});
