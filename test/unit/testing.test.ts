import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ErrorCodes, RouteMQError, Router } from '../../src/index.js';
import type { Middleware } from '../../src/index.js';
import { createTestRouter } from '../../src/testing.js';
import type { TestRouter } from '../../src/testing.js';

const routersDir = new URL('../../routers', import.meta.url).pathname;

let open: TestRouter[] = [];
async function testRouter(...args: Parameters<typeof createTestRouter>): Promise<TestRouter> {
  const t = await createTestRouter(...args);
  open.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(open.map((t) => t.stop()));
  open = [];
});

describe('routemq/testing with route files that throw RouteMQErrors', () => {
  // Route files load through tsx's namespaced loader, so they get their own instance of RouteMQ's modules: a
  // RouteMQError they throw must still be one (its code decides retries), as under `routemq start`.
  it('dead-letters a rate-limited message at once with RMQ_ERR_RATE_LIMITED, like routemq start', async () => {
    const t = await testRouter(new URL('../fixtures/routers-rate-limited', import.meta.url).pathname);
    expect((await t.publish('rl/x', {})).outcome).toBe('handled');
    const limited = await t.publish('rl/x', {});
    expect(limited).toMatchObject({ outcome: 'dead-lettered', code: ErrorCodes.RATE_LIMITED, attempts: 1 });
  });
});

describe('routemq/testing with the sample routers', () => {
  it('runs the telemetry route (group middleware, schema, handler) and records the alert it publishes', async () => {
    const t = await testRouter(routersDir);
    const r = await t.publish('sensors/attic/telemetry', { value: 45 });
    expect(r.outcome).toBe('handled');
    expect(r.route).toBe('sensors/{sensorId}/telemetry');
    expect(r.attempts).toBe(1);
    expect(r.published).toEqual([
      expect.objectContaining({
        topic: 'alerts/attic',
        payload: { sensorId: 'attic', value: 45, reason: 'too hot' },
        qos: 1,
        retain: false,
      }),
    ]);
    // The timing middleware's line, from ctx.log (bound to the route and topic).
    expect(r.logs).toContainEqual(
      expect.objectContaining({ level: 'debug', msg: 'handled', route: r.route, topic: 'sensors/attic/telemetry' }),
    );
  });

  it('publishes nothing for a cool reading', async () => {
    const t = await testRouter(routersDir);
    const r = await t.publish('sensors/kitchen/telemetry', { value: 20, unit: 'C' });
    expect(r.outcome).toBe('handled');
    expect(r.published).toEqual([]);
  });

  it('dead-letters a reading that fails the schema, with its code, before any try', async () => {
    const t = await testRouter(routersDir);
    const r = await t.publish('sensors/broken/telemetry', '{"value": "not a number"}');
    expect(r.outcome).toBe('dead-lettered');
    expect(r.code).toBe(ErrorCodes.PAYLOAD_SCHEMA);
    expect(r.attempts).toBe(0);
    expect(r.deadLetter).toMatchObject({
      topic: 'sensors/broken/telemetry',
      dlq: 'routemq/dlq/sensors/{sensorId}/telemetry',
    });
    expect(r.logs).toContainEqual(expect.objectContaining({ level: 'warn', code: ErrorCodes.PAYLOAD_SCHEMA }));
  });

  it('gives the command handler its params and wildcards, and records the reply', async () => {
    const t = await testRouter(routersDir);
    const r = await t.publish('devices/lamp-1/commands/toggle', { requestedBy: 'test' });
    expect(r.outcome).toBe('handled');
    expect(r.published).toHaveLength(1);
    expect(r.published[0]).toMatchObject({ topic: 'devices/lamp-1/replies', payload: { command: 'toggle', ok: true } });
  });

  it('says no-route for a topic no route matches', async () => {
    const t = await testRouter(routersDir);
    const r = await t.publish('nothing/here', 'x');
    expect(r).toMatchObject({ outcome: 'no-route', routes: [], attempts: 0, published: [] });
  });

  it('lists the routes it loaded', async () => {
    const t = await testRouter(routersDir);
    expect(t.routes.map((r) => r.pattern).sort()).toEqual([
      'devices/{deviceId}/commands/+',
      'sensors/{sensorId}/telemetry',
    ]);
  });
});

describe('routemq/testing outcomes', () => {
  it('retries a failing handler and reports retried, with each failure', async () => {
    let calls = 0;
    const t = await testRouter((router) => {
      router.on('jobs/{id}', () => {
        calls++;
        if (calls < 3) throw new Error(`flaky ${calls}`);
      });
    });
    const r = await t.publish('jobs/1', {});
    expect(r.outcome).toBe('retried');
    expect(r.attempts).toBe(3);
    expect(r.code).toBe(ErrorCodes.HANDLER_FAILED);
    expect(r.failures.map((f) => [f.attempt, f.message])).toEqual([
      [1, 'flaky 1'],
      [2, 'flaky 2'],
    ]);
    expect(r.logs.filter((l) => l.msg === 'handler failed; retrying')).toHaveLength(2);
  });

  it("dead-letters after the route's maxAttempts with the handler's code", async () => {
    const t = await testRouter((router) => {
      router.on(
        'jobs/{id}',
        () => {
          throw new RouteMQError(ErrorCodes.HANDLER_FAILED, 'always');
        },
        { maxAttempts: 2 },
      );
    });
    const r = await t.publish('jobs/9', { n: 9 });
    expect(r.outcome).toBe('dead-lettered');
    expect(r.code).toBe(ErrorCodes.HANDLER_FAILED);
    expect(r.attempts).toBe(2);
    expect(r.deadLetter).toMatchObject({ attempts: 2, route: 'jobs/{id}', payload: '{"n":9}' });
  });

  it('dead-letters at once when a middleware calls next() twice: a retry would only run the handler again', async () => {
    let handlerRuns = 0;
    const twice: Middleware = async (_ctx, next) => {
      await next();
      await next();
    };
    const t = await testRouter((router) => {
      router.on('jobs/{id}', () => void handlerRuns++, { middleware: [twice], maxAttempts: 3 });
    });
    const r = await t.publish('jobs/2', {});
    expect(r).toMatchObject({ outcome: 'dead-lettered', code: ErrorCodes.NEXT_CALLED_TWICE, attempts: 1 });
    expect(handlerRuns).toBe(1);
  });

  it('times a try out with the route timeoutMs and dead-letters with RMQ_ERR_HANDLER_TIMEOUT', async () => {
    const t = await testRouter(
      (router) => {
        router.on('slow', (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)), {
          timeoutMs: 1,
        });
      },
      { maxAttempts: 1 },
    );
    const r = await t.publish('slow', 'x');
    expect(r.outcome).toBe('dead-lettered');
    expect(r.code).toBe(ErrorCodes.HANDLER_TIMEOUT);
    expect(r.failures.map((f) => f.code)).toEqual([ErrorCodes.HANDLER_TIMEOUT]);
  });

  it('puts what a timed-out handler publishes after its message settled in t.late, not in a result', async () => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const t = await testRouter(
      (router) => {
        router.on(
          'stubborn',
          async (ctx) => {
            await finished; // ignores ctx.signal
            await ctx.publish('too/late', 'x');
            ctx.log.info('still here');
          },
          { timeoutMs: 1, maxAttempts: 1 },
        );
      },
      { logLevel: 'info' },
    );
    const r = await t.publish('stubborn', 'x');
    expect(r).toMatchObject({ outcome: 'dead-lettered', code: ErrorCodes.HANDLER_TIMEOUT, published: [] });
    finish();
    await vi.waitUntil(() => t.late.logs.length > 0);
    expect(t.late.published.map((p) => p.topic)).toEqual(['too/late']);
    expect(t.late.logs).toEqual([expect.objectContaining({ msg: 'still here', route: 'stubborn' })]);
    expect(r.logs.some((l) => l.msg === 'still here')).toBe(false);
  });

  it('runs group and route middleware in onion order, and a middleware may stop the chain', async () => {
    const order: string[] = [];
    const mark =
      (name: string): Middleware =>
      async (ctx, next) => {
        order.push(`${name}>`);
        if (ctx.topic === 'a/stop' && name === 'route') return;
        await next();
        order.push(`<${name}`);
      };
    const t = await testRouter((router) => {
      router.group({ prefix: 'a', middleware: [mark('group')] }, (a) => {
        a.on('{x}', () => void order.push('handler'), { middleware: [mark('route')] });
      });
    });
    expect((await t.publish('a/go', 1)).outcome).toBe('handled');
    expect(order).toEqual(['group>', 'route>', 'handler', '<route', '<group']);
    order.length = 0;
    expect((await t.publish('a/stop', 1)).outcome).toBe('handled');
    expect(order).toEqual(['group>', 'route>', '<group']);
  });

  it('refuses a topic with a wildcard, and a handler publish to one fails its try', async () => {
    const t = await testRouter((router) => {
      router.on('in', (ctx) => ctx.publish('out/#', 'x'), { maxAttempts: 1 });
    });
    await expect(t.publish('in/+', 'x')).rejects.toMatchObject({ code: ErrorCodes.TOPIC_INVALID });
    const r = await t.publish('in', 'x');
    expect(r).toMatchObject({ outcome: 'dead-lettered', code: ErrorCodes.TOPIC_INVALID, published: [] });
  });

  it('runs publishes one at a time and keeps each one its own published messages', async () => {
    const t = await testRouter((router) => {
      router.on('n/{i}', async (ctx) => {
        await new Promise((resolve) => setImmediate(resolve));
        await ctx.publish(`out/${ctx.params.i}`, ctx.payload as object);
      });
    });
    const results = await Promise.all([1, 2, 3].map((i) => t.publish(`n/${i}`, { i })));
    expect(results.map((r) => r.published.map((p) => [p.topic, p.payload]))).toEqual([
      [['out/1', { i: 1 }]],
      [['out/2', { i: 2 }]],
      [['out/3', { i: 3 }]],
    ]);
  });

  it('types ctx.payload from the schema and applies its defaults', async () => {
    const t = await testRouter(
      new Router().on(
        'typed/{id}',
        async (ctx) => {
          const unit: 'C' | 'F' = ctx.payload.unit;
          await ctx.publish('typed/out', { id: ctx.params.id, unit });
        },
        { schema: z.object({ unit: z.enum(['C', 'F']).default('C') }) },
      ),
    );
    const r = await t.publish('typed/7', {});
    expect(r.published[0]?.payload).toEqual({ id: '7', unit: 'C' });
  });

  it('skips a retained copy when only shared routes match (MQTT 5 §4.8.2)', async () => {
    const t = await testRouter((router) => {
      router.on('s/{x}', () => undefined, { shared: true });
    });
    expect((await t.publish('s/1', 'x', { retain: true })).outcome).toBe('skipped');
    expect((await t.publish('s/1', 'x')).outcome).toBe('handled');
  });

  it('ends a message in flight as unacked when stopped, and refuses publishes after', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const t = await testRouter((router) => {
      router.on('hang', (ctx) => {
        started();
        return new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)),
        );
      });
    });
    const pending = t.publish('hang', 'x');
    await running;
    await t.stop();
    expect((await pending).outcome).toBe('unacked');
    await expect(t.publish('hang', 'x')).rejects.toMatchObject({ code: ErrorCodes.STOPPED });
  });

  it('fails to load like routemq start does', async () => {
    await expect(createTestRouter('/nonexistent-routers-dir')).rejects.toMatchObject({
      code: ErrorCodes.ROUTES_NOT_FOUND,
    });
  });
});
