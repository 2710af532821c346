import { describe, it, expect } from 'vitest';
import { z } from 'zod';
import { ErrorCodes, RouteMQError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { Router } from '../../src/router/router.js';
import type { RouteOptions } from '../../src/router/route-options.js';
import { compileRoutes } from '../../src/router/route-table.js';
import type { MessageContext, Middleware } from '../../src/types.js';

const noop = (): void => undefined;
const FILE = '/app/routers/sensors.ts';

function optionError(options: unknown, pattern = 'sensors/{id}/t'): RouteMQError {
  const router = new Router();
  router.setSource(FILE);
  try {
    router.on(pattern, noop, options as RouteOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(RouteMQError);
    return err as RouteMQError;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be rejected`);
}

function fakeContext(): MessageContext {
  return { topic: 't', route: { pattern: 'p', filter: 'p', name: 'p' }, state: {} } as unknown as MessageContext;
}

describe('route options', () => {
  const rejected: [options: Record<string, unknown>, code: ErrorCode, reason: string][] = [
    [{ qos: 3 }, ErrorCodes.ROUTE_OPTION_INVALID, 'must be 0, 1 or 2'],
    [{ qos: '1' }, ErrorCodes.ROUTE_OPTION_INVALID, 'must be 0, 1 or 2'],
    [{ shared: 'yes' }, ErrorCodes.ROUTE_OPTION_INVALID, 'must be a boolean'],
    [{ workerCount: 2 }, ErrorCodes.ROUTE_OPTION_INVALID, 'needs shared: true'],
    [{ workerCount: 1, shared: false }, ErrorCodes.ROUTE_OPTION_INVALID, 'needs shared: true'],
    [{ workerCount: 0, shared: true }, ErrorCodes.ROUTE_OPTION_INVALID, 'integer >= 1'],
    [{ workerCount: 1.5, shared: true }, ErrorCodes.ROUTE_OPTION_INVALID, 'integer >= 1'],
    [{ group: 'bad group', shared: true }, ErrorCodes.GROUP_INVALID, 'must match'],
    [{ group: 'g'.repeat(65), shared: true }, ErrorCodes.GROUP_INVALID, 'must match'],
    [{ group: '', shared: true }, ErrorCodes.GROUP_INVALID, 'must match'],
    [{ group: 'a/b' }, ErrorCodes.GROUP_INVALID, 'must match'],
    [{ middleware: noop }, ErrorCodes.ROUTE_OPTION_INVALID, 'array of middleware'],
    [{ middleware: [noop, 'x'] }, ErrorCodes.ROUTE_OPTION_INVALID, 'array of middleware'],
    [{ schema: { type: 'object' } }, ErrorCodes.ROUTE_OPTION_INVALID, 'Standard Schema'],
    [{ timeoutMs: 0 }, ErrorCodes.ROUTE_OPTION_INVALID, 'integer >= 1'],
    [{ timeoutMs: 2.5 }, ErrorCodes.ROUTE_OPTION_INVALID, 'integer >= 1'],
    [{ timeoutMs: 2 ** 31 }, ErrorCodes.ROUTE_OPTION_INVALID, '<= 2147483647'],
    [{ maxAttempts: 0 }, ErrorCodes.ROUTE_OPTION_INVALID, 'integer >= 1'],
    [{ deadLetterTopic: 'dlq/+' }, ErrorCodes.ROUTE_OPTION_INVALID, 'wildcards'],
    [{ deadLetterTopic: 'dlq/#' }, ErrorCodes.ROUTE_OPTION_INVALID, 'wildcards'],
    [{ deadLetterTopic: '' }, ErrorCodes.ROUTE_OPTION_INVALID, 'empty'],
    [{ concurrency: -1 }, ErrorCodes.ROUTE_OPTION_INVALID, 'integer >= 1'],
    [{ pool: 'fast', shared: false }, ErrorCodes.ROUTE_OPTION_INVALID, 'needs shared: true'],
    [{ pool: 'bad pool', shared: true }, ErrorCodes.ROUTE_OPTION_INVALID, 'must match'],
    [{ name: 'x/+' }, ErrorCodes.ROUTE_OPTION_INVALID, 'wildcards'],
    [{ workercount: 2 }, ErrorCodes.ROUTE_OPTION_INVALID, 'unknown option'],
  ];

  it.each(rejected)('rejects %j with %s', (options, code, reason) => {
    const err = optionError(options);
    expect(err.code).toBe(code);
    expect(err.message).toContain(reason);
    expect(err.message).toContain("'sensors/{id}/t'");
    expect(err.message).toContain(FILE);
  });

  it('names the option and its value', () => {
    expect(optionError({ workerCount: 3 }).message).toBe(
      `Invalid route option workerCount=3 for 'sensors/{id}/t' in ${FILE}: ` +
        'needs shared: true (worker processes split a shared subscription)',
    );
  });

  it('rejects options that are not an object', () => {
    expect(optionError(5).code).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
  });

  it('rejects a handler that is not a function', () => {
    const router = new Router();
    expect(() => router.on('a', 'nope' as unknown as () => void)).toThrow(
      expect.objectContaining({ code: ErrorCodes.ROUTE_OPTION_INVALID }),
    );
  });

  it('accepts every valid option and ignores options set to undefined', () => {
    const router = new Router().on('a/{id}', noop, {
      qos: 0,
      shared: true,
      workerCount: 3,
      group: 'Team_a-1',
      middleware: [],
      schema: z.object({ v: z.number() }),
      timeoutMs: 5000,
      maxAttempts: 3,
      deadLetterTopic: 'dead/letters',
      concurrency: 4,
      pool: 'fast',
      name: 'a-by-id',
    });
    router.on('b', noop, { timeoutMs: undefined });
    expect(router.declarations).toHaveLength(2);
    expect(router.declarations[1]?.options).toEqual({});
  });
});

describe('Router.group', () => {
  it('joins prefixes with one slash and keeps every other slash as written', () => {
    const router = new Router();
    router.group({ prefix: '/sensors/' }, (r) => {
      r.on('temp', noop);
      r.group({ prefix: 'rooms//' }, (inner) => inner.on('{room}/', noop));
      r.group({}, (inner) => inner.on('humidity', noop));
    });
    expect(router.declarations.map((d) => d.pattern)).toEqual([
      '/sensors/temp',
      '/sensors/rooms//{room}/',
      '/sensors/humidity',
    ]);
  });

  it('runs group middleware before route middleware, outer groups first', async () => {
    const log: string[] = [];
    const mark =
      (name: string): Middleware =>
      async (_ctx, next) => {
        log.push(name);
        await next();
      };
    const router = new Router();
    router.group({ prefix: 'a', middleware: [mark('outer1'), mark('outer2')] }, (r) => {
      r.group({ prefix: 'b', middleware: [mark('inner')] }, (inner) => {
        inner.on('c', () => void log.push('handler'), { middleware: [mark('route')] });
      });
      r.on('d', () => void log.push('handler-d'));
    });
    router.on('e', () => void log.push('handler-e'));

    const table = compileRoutes(router, { defaultGroup: 'g' });
    const [abc, ad, e] = table.routes;
    expect(abc?.pattern).toBe('a/b/c');
    await abc?.run(fakeContext());
    expect(log).toEqual(['outer1', 'outer2', 'inner', 'route', 'handler']);
    log.length = 0;
    await ad?.run(fakeContext());
    expect(log).toEqual(['outer1', 'outer2', 'handler-d']);
    log.length = 0;
    await e?.run(fakeContext());
    expect(log).toEqual(['handler-e']);
  });

  it('records the source file on routes declared inside a group', () => {
    const router = new Router();
    router.setSource(FILE);
    router.group({ prefix: 'x' }, (r) => r.on('y', noop));
    expect(router.declarations[0]?.source).toBe(FILE);
  });

  it('rejects a bad prefix, bad middleware, unknown options and an async callback', () => {
    const router = new Router();
    const codeOf = (fn: () => void): unknown => {
      try {
        fn();
      } catch (err) {
        return (err as RouteMQError).code;
      }
      return undefined;
    };
    expect(codeOf(() => router.group({ prefix: 5 as unknown as string }, noop))).toBe(ErrorCodes.PATTERN_INVALID);
    expect(codeOf(() => router.group({ middleware: [5 as unknown as Middleware] }, noop))).toBe(
      ErrorCodes.ROUTE_OPTION_INVALID,
    );
    expect(codeOf(() => router.group({ prefx: 'a' } as never, noop))).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
    const asyncCallback = (): Promise<void> => Promise.resolve();
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the misuse is what this test checks
    expect(codeOf(() => router.group({ prefix: 'a' }, asyncCallback))).toBe(ErrorCodes.ROUTE_OPTION_INVALID);
    expect(codeOf(() => router.group({ prefix: '$share/g' }, (r) => r.on('a', noop)))).toBe(
      ErrorCodes.PATTERN_SHARE_PREFIX,
    );
  });
});

describe('Router.merge', () => {
  it('appends declarations in order and fills in a missing source', () => {
    const other = new Router().on('b', noop);
    other.setSource('/known.ts');
    other.on('c', noop);
    const router = new Router().on('a', noop);
    router.merge(other, '/file.ts');
    expect(router.declarations.map((d) => [d.pattern, d.source])).toEqual([
      ['a', undefined],
      ['b', '/file.ts'],
      ['c', '/known.ts'],
    ]);
  });

  it('does nothing when merging a router, or one of its groups, into itself', () => {
    const router = new Router().on('a', noop);
    router.merge(router);
    router.group({ prefix: 'g' }, (r) => {
      r.on('b', noop);
      router.merge(r);
    });
    expect(router.declarations.map((d) => d.pattern)).toEqual(['a', 'g/b']);
  });
});

describe('compileRoutes', () => {
  it('compiles frozen definitions with ids in registration order and defaults applied', () => {
    const schema = z.object({ v: z.number() });
    const router = new Router();
    router.setSource('/r/a.ts');
    router.on('sensors/{id}/telemetry', noop, { shared: true, workerCount: 3, schema, timeoutMs: 100 });
    router.setSource('/r/b.ts');
    router.on('alerts/+/#', noop, { qos: 2, name: 'alerts-any', deadLetterTopic: 'dlq/alerts' });
    router.on('jobs/{kind}', noop, { shared: true, group: 'jobs', pool: 'heavy', concurrency: 2, maxAttempts: 5 });

    const table = compileRoutes(router, { defaultGroup: 'routemq' });
    const [telemetry, alerts, jobs] = table.routes;

    expect(telemetry).toMatchObject({
      id: 1,
      pattern: 'sensors/{id}/telemetry',
      filter: 'sensors/+/telemetry',
      mqttTopic: '$share/routemq/sensors/+/telemetry',
      name: 'sensors/{id}/telemetry',
      captureNames: ['id'],
      middleware: [],
      qos: 1,
      shared: true,
      workerCount: 3,
      group: 'routemq',
      pool: undefined,
      schema,
      timeoutMs: 100,
      source: '/r/a.ts',
    });
    expect(telemetry).not.toHaveProperty('maxAttempts');
    expect(alerts).toMatchObject({
      id: 2,
      filter: 'alerts/+/#',
      mqttTopic: 'alerts/+/#',
      name: 'alerts-any',
      captureNames: [null, null],
      qos: 2,
      shared: false,
      workerCount: 1,
      group: undefined,
      deadLetterTopic: 'dlq/alerts',
      source: '/r/b.ts',
    });
    expect(jobs).toMatchObject({ id: 3, mqttTopic: '$share/jobs/jobs/+', group: 'jobs', pool: 'heavy' });
    expect(jobs).toMatchObject({ concurrency: 2, maxAttempts: 5 });
    expect(Object.isFrozen(telemetry)).toBe(true);
    expect(Object.isFrozen(table.routes)).toBe(true);
    expect(table.getById(2)).toBe(alerts);
    expect(table.getById(4)).toBeUndefined();
  });

  it('derives topic-safe names: {x} kept, + as *, # as **', () => {
    const table = compileRoutes(new Router().on('a/{id}/+/#', noop), { defaultGroup: 'g' });
    expect(table.routes[0]?.name).toBe('a/{id}/*/**');
  });

  it('ignores the group option of a non-shared route', () => {
    const table = compileRoutes(new Router().on('a', noop, { group: 'custom' }), { defaultGroup: 'g' });
    expect(table.routes[0]).toMatchObject({ shared: false, group: undefined, mqttTopic: 'a' });
  });

  it('rejects two non-shared routes on the same filter, naming both patterns and files', () => {
    const router = new Router();
    router.setSource('/r/a.ts');
    router.on('devices/{id}/state', noop);
    router.setSource('/r/b.ts');
    router.on('devices/+/state', noop);
    let caught: unknown;
    try {
      compileRoutes(router, { defaultGroup: 'g' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: ErrorCodes.ROUTE_DUPLICATE });
    const message = (caught as Error).message;
    for (const part of ["'devices/{id}/state'", '/r/a.ts', "'devices/+/state'", '/r/b.ts']) {
      expect(message).toContain(part);
    }
  });

  it('rejects two shared routes on the same filter in the same group, default group included', () => {
    const router = new Router().on('a/+', noop, { shared: true }).on('a/{x}', noop, { shared: true, group: 'main' });
    expect(() => compileRoutes(router, { defaultGroup: 'main' })).toThrow(
      expect.objectContaining({ code: ErrorCodes.ROUTE_DUPLICATE, message: expect.stringContaining("'main'") }),
    );
  });

  it('allows the same filter in different groups, and shared next to non-shared', () => {
    const router = new Router()
      .on('a/{x}', noop, { shared: true, group: 'one' })
      .on('a/{y}', noop, { shared: true, group: 'two' })
      .on('a/+', noop);
    const table = compileRoutes(router, { defaultGroup: 'g' });
    const match = table.match('a/42');
    expect(match?.filter).toBe('a/+');
    expect(match?.routes.map((r) => r.id)).toEqual([1, 2, 3]);
    const [one, two, plain] = match!.routes;
    expect(table.bindCaptures(one!, match!.captures)).toEqual({ params: { x: '42' }, wildcards: [] });
    expect(table.bindCaptures(two!, match!.captures)).toEqual({ params: { y: '42' }, wildcards: [] });
    expect(table.bindCaptures(plain!, match!.captures)).toEqual({ params: {}, wildcards: ['42'] });
  });

  it('gives each subscription a v5 identifier that does not move when routes are added before it', () => {
    const before = compileRoutes(new Router().on('a/{x}', noop).on('b/#', noop, { shared: true }), {
      defaultGroup: 'g',
    });
    const after = compileRoutes(
      new Router().on('new/route', noop).on('z/+', noop).on('a/{x}', noop).on('b/#', noop, { shared: true }),
      { defaultGroup: 'g' },
    );
    const ids = (table: typeof before): Record<string, number> =>
      Object.fromEntries(table.routes.map((r) => [r.mqttTopic, r.subscriptionId]));
    expect(ids(after)).toMatchObject(ids(before));
    expect(after.routes.map((r) => r.id)).toEqual([1, 2, 3, 4]); // registration order still numbers the routes
    const all = Object.values(ids(after));
    expect(new Set(all).size).toBe(all.length);
    for (const id of all) expect(id >= 1 && id <= 268_435_455).toBe(true);
  });

  it('rejects an invalid default group', () => {
    expect(() => compileRoutes(new Router(), { defaultGroup: 'no spaces' })).toThrow(
      expect.objectContaining({ code: ErrorCodes.GROUP_INVALID }),
    );
  });
});

describe('RouteTable', () => {
  const router = new Router()
    .on('sensors/{sensorId}/+/readings/#', noop)
    .on('sensors/{sensorId}/status', noop, { shared: true, workerCount: 4, qos: 2 })
    .on('jobs/#', noop, { shared: true, group: 'jobs' });
  const table = compileRoutes(router, { defaultGroup: 'routemq' });

  it('binds named captures to params and anonymous ones to wildcards, in order', () => {
    const match = table.match('sensors/s1/kitchen/readings/2024/05/01');
    expect(match).toMatchObject({ filter: 'sensors/+/+/readings/#', captures: ['s1', 'kitchen', '2024/05/01'] });
    expect(table.bindCaptures(match!.routes[0]!, match!.captures)).toEqual({
      params: { sensorId: 's1' },
      wildcards: ['kitchen', '2024/05/01'],
    });
  });

  it("binds '' to a trailing # that matched zero levels", () => {
    const match = table.match('jobs');
    expect(match?.captures).toEqual(['']);
    expect(table.bindCaptures(match!.routes[0]!, match!.captures)).toEqual({ params: {}, wildcards: [''] });
  });

  it('counts topics with no route, and never throws', () => {
    const before = table.noMatchCount;
    expect(table.match('unknown/topic')).toBeUndefined();
    expect(table.match('')).toBeUndefined();
    expect(table.match(undefined as unknown as string)).toBeUndefined();
    expect(table.noMatchCount).toBe(before + 3);
    table.match('jobs/1');
    expect(table.noMatchCount).toBe(before + 3);
  });

  it('lists the shared routes with topic, mqttTopic, group, qos and workerCount', () => {
    expect(table.getSharedRoutesInfo()).toEqual([
      {
        topic: 'sensors/{sensorId}/status',
        mqttTopic: '$share/routemq/sensors/+/status',
        group: 'routemq',
        qos: 2,
        workerCount: 4,
      },
      { topic: 'jobs/#', mqttTopic: '$share/jobs/jobs/#', group: 'jobs', qos: 1, workerCount: 1 },
    ]);
  });
});
