import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IPublishPacket } from 'mqtt';
import { ReloadScheduler } from '../../src/dev/reload-scheduler.js';
import { silentLogger } from '../../src/logger.js';
import { Dispatcher } from '../../src/message/dispatcher.js';
import { Router } from '../../src/router/router.js';
import { compileRoutes } from '../../src/router/route-table.js';
import type { RouteTable } from '../../src/router/route-table.js';
import { changesNeedingRestart } from '../../src/runtime/reload-layout.js';
import type { Handler, RouteOptions } from '../../src/index.js';

// What a reload swaps (the dispatcher's table, between two packets), what it refuses (a pool layout), and when
// `routemq dev` runs one (debounced, never two at once). Fake timers, no broker.

let nextId = 1;
const packet = (topic: string): IPublishPacket => ({
  cmd: 'publish',
  topic,
  payload: Buffer.from('{}'),
  qos: 1,
  retain: false,
  dup: false,
  messageId: nextId++,
});

function table(routes: [string, Handler?, RouteOptions?][]): RouteTable {
  const router = new Router();
  for (const [pattern, handler, options] of routes) router.on(pattern, handler ?? (() => undefined), options ?? {});
  return compileRoutes(router, { defaultGroup: 'g' });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('Dispatcher.replaceTable', () => {
  it('runs the message in hand on the old code, acks it after that handler, and runs the next one on the new code', async () => {
    const ran: string[] = [];
    const gate = deferred();
    const old = table([['t/{id}', async (ctx) => (ran.push(`old:${ctx.topic}`), gate.promise)]]);
    const acked: number[] = [];
    const dispatcher = new Dispatcher({
      table: old,
      ack: (p) => (acked.push(p.messageId ?? -1), true),
      publish: () => Promise.resolve(),
      concurrency: 4,
      limits: { maxBytes: 1024, maxDepth: 8 },
      defaults: { timeoutMs: 60_000, maxAttempts: 1, retryBaseMs: 10, retryMaxMs: 40, dlqPrefix: 'dlq' },
      logger: silentLogger(),
    });
    const first = packet('t/1');
    void dispatcher.onPacket(first, 1);
    dispatcher.replaceTable(
      table([
        ['t/{id}', (ctx) => void ran.push(`new:${ctx.topic}`)],
        ['u/{id}', (ctx) => void ran.push(`new:${ctx.topic}`)],
      ]),
    );
    const second = packet('t/2');
    const third = packet('u/3');
    void dispatcher.onPacket(second, 1);
    void dispatcher.onPacket(third, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual(['old:t/1', 'new:t/2', 'new:u/3']);
    // Acks stay in arrival order: the old message's handler has not settled, so nothing is acked yet.
    expect(acked).toEqual([]);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(acked).toEqual([first.messageId, second.messageId, third.messageId]);
  });

  it('asks the new serves() for the new routes (a route the main process no longer serves is acked unrun)', async () => {
    const ran: string[] = [];
    const t = table([['t/{id}', (ctx) => void ran.push(ctx.topic)]]);
    const acked: number[] = [];
    const dispatcher = new Dispatcher({
      table: t,
      ack: (p) => (acked.push(p.messageId ?? -1), true),
      publish: () => Promise.resolve(),
      concurrency: 4,
      limits: { maxBytes: 1024, maxDepth: 8 },
      defaults: { timeoutMs: 1000, maxAttempts: 1, retryBaseMs: 10, retryMaxMs: 40, dlqPrefix: 'dlq' },
      logger: silentLogger(),
    });
    void dispatcher.onPacket(packet('t/1'), 1);
    dispatcher.replaceTable(t, () => false);
    const skipped = packet('t/2');
    void dispatcher.onPacket(skipped, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual(['t/1']);
    expect(acked).toContain(skipped.messageId);
    expect(dispatcher.stats().skipped).toBe(1);
  });

  it('runs a v5 copy tagged only with a subscription the new table lacks by its topic while the new subscriptions are pending', async () => {
    const ran: string[] = [];
    const old = table([['a/b', () => undefined]]);
    const next = table([
      ['a/+', (ctx) => void ran.push(`a/+:${ctx.topic}`)],
      ['a/#', (ctx) => void ran.push(`a/#:${ctx.topic}`)],
    ]);
    const acked: number[] = [];
    const dispatcher = new Dispatcher({
      table: old,
      ack: (p) => (acked.push(p.messageId ?? -1), true),
      publish: () => Promise.resolve(),
      concurrency: 4,
      limits: { maxBytes: 1024, maxDepth: 8 },
      defaults: { timeoutMs: 1000, maxAttempts: 1, retryBaseMs: 10, retryMaxMs: 40, dlqPrefix: 'dlq' },
      logger: silentLogger(),
    });
    dispatcher.replaceTable(next);
    dispatcher.runStaleCopies = true;
    const tagged = (id: number): IPublishPacket => ({ ...packet('a/b'), properties: { subscriptionIdentifier: id } });
    const stale = tagged(old.routes[0]?.subscriptionId ?? 0);
    // The copy of the 'a/#' subscription: the winning filter is 'a/+', so it is acked without running.
    const loser = tagged(next.routes[1]?.subscriptionId ?? 0);
    const winner = tagged(next.routes[0]?.subscriptionId ?? 0);
    for (const p of [stale, loser, winner]) void dispatcher.onPacket(p, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual(['a/+:a/b', 'a/+:a/b']);
    expect(acked).toEqual([stale.messageId, loser.messageId, winner.messageId]);
    // Once the new subscriptions are acked, they deliver their own copies: an old subscription's copy is acked unrun.
    dispatcher.runStaleCopies = false;
    const late = tagged(old.routes[0]?.subscriptionId ?? 0);
    void dispatcher.onPacket(late, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toHaveLength(2);
    expect(acked).toContain(late.messageId);
  });
});

describe('changesNeedingRestart', () => {
  const options = { pooled: true, defaultConcurrency: 8 };
  const base = table([
    ['a/{id}', undefined, { shared: true, workerCount: 2 }],
    ['m/{id}', undefined, {}],
  ]);

  it('finds nothing when only handlers, main filters and route options other than the layout change', () => {
    const after = table([
      ['a/{x}', () => undefined, { shared: true, workerCount: 2, timeoutMs: 5 }],
      ['m/+/n', undefined, { qos: 0 }],
      ['new/{id}', undefined, {}],
    ]);
    expect(changesNeedingRestart(base, after, options)).toEqual([]);
  });

  it.each<[string, [string, Handler?, RouteOptions?][], RegExp]>([
    [
      'a pool added',
      [
        ['a/{id}', undefined, { shared: true, workerCount: 2 }],
        ['b/{id}', undefined, { shared: true }],
      ],
      /pool 'b-any' is new/,
    ],
    ['a pool removed', [['m/{id}', undefined, {}]], /pool 'a-any' is gone/],
    [
      'a pool resized',
      [['a/{id}', undefined, { shared: true, workerCount: 3 }]],
      /pool 'a-any' changes from .*workerCount 2.* to .*workerCount 3/,
    ],
    [
      'a share group changed',
      [['a/{id}', undefined, { shared: true, workerCount: 2, group: 'h' }]],
      /\$share\/g\/a\/\+ .* to \$share\/h\/a\/\+/,
    ],
    [
      'the main concurrency changed',
      [
        ['a/{id}', undefined, { shared: true, workerCount: 2 }],
        ['m/{id}', undefined, { concurrency: 2 }],
      ],
      /main process's handler concurrency changes from 8 to 2/,
    ],
  ])('names %s', (_label, routes, expected) => {
    expect(changesNeedingRestart(base, table(routes), options).join('; ')).toMatch(expected);
  });

  it('lets shared routes come and go when everything runs in the main process', () => {
    expect(
      changesNeedingRestart(base, table([['b/{id}', undefined, { shared: true }]]), { ...options, pooled: false }),
    ).toEqual([]);
  });
});

describe('ReloadScheduler', () => {
  it('reloads once after the files have been quiet for the debounce time, with every file changed', async () => {
    const runs: (readonly string[])[] = [];
    const s = new ReloadScheduler({ debounceMs: 100, run: (changed) => (runs.push(changed), Promise.resolve()) });
    s.notify('a.ts');
    await vi.advanceTimersByTimeAsync(60);
    s.notify('b.ts');
    await vi.advanceTimersByTimeAsync(60);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(40);
    expect(runs).toEqual([['a.ts', 'b.ts']]);
  });

  it('never runs two reloads at once: a change during a reload runs one more after it', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    const runs: (readonly string[])[] = [];
    const s = new ReloadScheduler({
      debounceMs: 10,
      run: (changed) => {
        runs.push(changed);
        const gate = deferred();
        gates.push(gate);
        return gate.promise;
      },
    });
    s.notify('a.ts');
    await vi.advanceTimersByTimeAsync(10);
    s.notify('b.ts');
    s.notify('c.ts');
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toEqual([['a.ts']]);
    gates[0]?.resolve();
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toEqual([['a.ts'], ['b.ts', 'c.ts']]);
    gates[1]?.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toHaveLength(2);
  });

  it('stops: no reload after stop(), which waits for the one in progress', async () => {
    const gate = deferred();
    const runs: (readonly string[])[] = [];
    const s = new ReloadScheduler({ debounceMs: 10, run: (changed) => (runs.push(changed), gate.promise) });
    s.notify('a.ts');
    await vi.advanceTimersByTimeAsync(10);
    s.notify('b.ts');
    let stopped = false;
    void s.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(false);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(stopped).toBe(true);
    expect(runs).toEqual([['a.ts']]);
    s.notify('c.ts');
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toEqual([['a.ts']]);
  });
});
