import type { IPublishPacket } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, RouteMQError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { Dispatcher } from '../../src/message/dispatcher.js';
import type { DispatcherOptions } from '../../src/message/dispatcher.js';
import { retainHandlingFor, runsRetainedCopy } from '../../src/message/retained.js';
import type { RetainedCopyContext } from '../../src/message/retained.js';
import { Router } from '../../src/router/router.js';
import type { RouteOptions } from '../../src/router/route-options.js';
import { compileRoutes } from '../../src/router/route-table.js';

// Retained messages on persistent sessions: once per session by default, at every start with the opt-in, never on
// a shared route (MQTT 5 §4.8.2). The broker side (Retain Handling) and the receiving side (the retain flag).

const main = { shared: false, retained: 'once' } as const;
const everyStart = { shared: false, retained: 'every-start' } as const;
const shared = { shared: true, retained: 'once' } as const;

describe('retainHandlingFor', () => {
  it('asks for retained messages only for a new subscription, at every start with the opt-in, never when shared', () => {
    expect(retainHandlingFor(main, true)).toBe(1);
    expect(retainHandlingFor(main, false)).toBe(1);
    expect(retainHandlingFor(everyStart, true)).toBe(0);
    expect(retainHandlingFor(everyStart, false)).toBe(1);
    expect(retainHandlingFor(shared, true)).toBe(2);
    expect(retainHandlingFor(shared, false)).toBe(2);
  });
});

describe('runsRetainedCopy', () => {
  const ctx = (protocolVersion: 4 | 5, sessionPresent: boolean, startConnection: boolean): RetainedCopyContext => ({
    protocolVersion,
    sessionPresent,
    startConnection,
  });

  it('never runs a retained copy on a shared route, DUP or not, on either protocol', () => {
    for (const v of [4, 5] as const) {
      for (const dup of [false, true]) {
        for (const sp of [false, true]) expect(runsRetainedCopy(shared, dup, ctx(v, sp, true))).toBe(false);
      }
    }
  });

  it('on MQTT 5 runs what the broker sent: Retain Handling already filtered it', () => {
    expect(runsRetainedCopy(main, false, ctx(5, true, false))).toBe(true);
    expect(runsRetainedCopy(everyStart, false, ctx(5, true, false))).toBe(true);
  });

  it('on MQTT 3.1.1 skips a fresh copy on a kept session, unless the route asks for it at every start', () => {
    // A new session: the subscription is new, its retained messages were never seen.
    expect(runsRetainedCopy(main, false, ctx(4, false, true))).toBe(true);
    expect(runsRetainedCopy(main, false, ctx(4, false, false))).toBe(true);
    // A kept session saw them when it first subscribed.
    expect(runsRetainedCopy(main, false, ctx(4, true, true))).toBe(false);
    expect(runsRetainedCopy(main, false, ctx(4, true, false))).toBe(false);
    // The opt-in: again at the start of the process, not at a reconnect that kept the session.
    expect(runsRetainedCopy(everyStart, false, ctx(4, true, true))).toBe(true);
    expect(runsRetainedCopy(everyStart, false, ctx(4, true, false))).toBe(false);
    expect(runsRetainedCopy(everyStart, false, ctx(4, false, false))).toBe(true);
  });

  it('runs a DUP copy on a kept 3.1.1 session: it was never acked, so perhaps never handled', () => {
    expect(runsRetainedCopy(main, true, ctx(4, true, false))).toBe(true);
  });
});

describe('the retained route option', () => {
  function declare(options: RouteOptions): RouteMQError | undefined {
    try {
      new Router().on('cfg/{key}', () => undefined, options);
      return undefined;
    } catch (err) {
      return err as RouteMQError;
    }
  }

  it("defaults to 'once' and accepts 'every-start' on a main-process route", () => {
    const router = new Router();
    router.on('cfg/{key}', () => undefined, { retained: 'every-start' });
    router.on('state/{key}', () => undefined);
    const table = compileRoutes(router, { defaultGroup: 'g' });
    expect(table.routes.map((r) => r.retained)).toEqual(['every-start', 'once']);
  });

  it('refuses an unknown value, and any value on a shared route, with RMQ_ERR_ROUTE_OPTION_INVALID', () => {
    const bad = declare({ retained: 'always' as 'once' });
    expect(bad).toBeInstanceOf(RouteMQError);
    expect(bad?.code).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
    expect(bad?.message).toContain("must be 'once' or 'every-start'");
    for (const retained of ['every-start', 'once'] as const) {
      const err = declare({ shared: true, retained });
      expect(err?.code).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
      expect(err?.message).toContain('MQTT 5 §4.8.2');
      expect(err?.message).toContain("'cfg/{key}'");
    }
  });
});

describe('Dispatcher and retained copies', () => {
  let nextId = 1;
  const packet = (topic: string, retain: boolean): IPublishPacket => ({
    cmd: 'publish',
    topic,
    payload: Buffer.from('{}'),
    qos: 1,
    retain,
    dup: false,
    messageId: nextId++,
  });

  async function run(options: RouteOptions, extra: Partial<DispatcherOptions> = {}) {
    const router = new Router();
    const ran: string[] = [];
    router.on('t/{id}', (ctx) => void ran.push(`${ctx.topic} retain=${ctx.retain}`), options);
    const table = compileRoutes(router, { defaultGroup: 'g' });
    const acked: number[] = [];
    const dispatcher = new Dispatcher({
      table,
      ack: (p) => (acked.push(p.messageId ?? -1), true),
      publish: () => Promise.resolve(),
      concurrency: 8,
      limits: { maxBytes: 1024, maxDepth: 8 },
      defaults: { timeoutMs: 1000, maxAttempts: 1, retryBaseMs: 10, retryMaxMs: 40, dlqPrefix: 'dlq' },
      logger: silentLogger(),
      ...extra,
    });
    const packets = [packet('t/a', true), packet('t/b', false)];
    for (const p of packets) void dispatcher.onPacket(p, 1);
    await dispatcher.drain(1000);
    return { ran, acked, expected: packets.map((p) => p.messageId), stats: dispatcher.stats() };
  }

  it('acks a retained copy on a shared route without running it, and runs the live message', async () => {
    const r = await run({ shared: true });
    expect(r.ran).toEqual(['t/b retain=false']);
    expect(r.acked).toEqual(r.expected);
    expect(r.stats.skipped).toBe(1);
  });

  it('asks runsRetained about retained copies only, and acks the ones it refuses', async () => {
    const asked: string[] = [];
    const refuse = await run(
      {},
      {
        runsRetained: (_route, p, epoch) => {
          asked.push(`${p.topic}@${epoch}`);
          return false;
        },
      },
    );
    expect(asked).toEqual(['t/a@1']);
    expect(refuse.ran).toEqual(['t/b retain=false']);
    expect(refuse.acked).toEqual(refuse.expected);
    const accept = await run({}, { runsRetained: () => true });
    expect(accept.ran).toEqual(['t/a retain=true', 't/b retain=false']);
    expect(accept.acked).toEqual(accept.expected);
  });
});
