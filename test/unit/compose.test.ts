import { describe, it, expect } from 'vitest';
import { ErrorCodes } from '../../src/errors.js';
import { compose } from '../../src/router/compose.js';
import type { MessageContext, Middleware } from '../../src/types.js';

/** A context with only what compose reads; the rest is never touched. */
function fakeContext(): MessageContext {
  return {
    topic: 't',
    route: { pattern: 'p/{x}', filter: 'p/+', name: 'p/{x}' },
    state: {},
  } as unknown as MessageContext;
}

function tracing(log: string[], name: string): Middleware {
  return async function traced(_ctx, next) {
    log.push(`${name}:in`);
    await next();
    log.push(`${name}:out`);
  };
}

describe('compose', () => {
  it('runs middleware in onion order around the handler', async () => {
    const log: string[] = [];
    const run = compose([tracing(log, 'a'), tracing(log, 'b'), tracing(log, 'c')], () => {
      log.push('handler');
    });
    await run(fakeContext());
    expect(log).toEqual(['a:in', 'b:in', 'c:in', 'handler', 'c:out', 'b:out', 'a:out']);
  });

  it('runs the handler alone when there is no middleware, and awaits it', async () => {
    const log: string[] = [];
    const run = compose([], async () => {
      await Promise.resolve();
      log.push('handler');
    });
    await run(fakeContext());
    expect(log).toEqual(['handler']);
  });

  it('stops the chain when a middleware returns without calling next()', async () => {
    const log: string[] = [];
    const stop: Middleware = async function stop() {
      log.push('stop');
      await Promise.resolve();
    };
    const run = compose([tracing(log, 'a'), stop, tracing(log, 'never')], () => {
      log.push('handler');
    });
    await run(fakeContext());
    expect(log).toEqual(['a:in', 'stop', 'a:out']);
  });

  it('rejects with NEXT_CALLED_TWICE when a middleware calls next() twice', async () => {
    const twice: Middleware = async function callsNextTwice(_ctx, next) {
      await next();
      await next();
    };
    let handled = 0;
    const run = compose([twice], () => {
      handled++;
    });
    await expect(run(fakeContext())).rejects.toMatchObject({
      code: ErrorCodes.NEXT_CALLED_TWICE,
      message: expect.stringContaining("'callsNextTwice'"),
    });
    expect(handled).toBe(1);
  });

  it('lets a middleware catch the NEXT_CALLED_TWICE error of its second next()', async () => {
    let caught: unknown;
    const run = compose(
      [
        async (_ctx, next) => {
          await next();
          await next().catch((err: unknown) => {
            caught = err;
          });
        },
      ],
      () => undefined,
    );
    await run(fakeContext());
    expect(caught).toMatchObject({ code: ErrorCodes.NEXT_CALLED_TWICE });
  });

  it('ignores the handler return value', async () => {
    const run = compose([], () => 'ignored');
    await expect(run(fakeContext())).resolves.toBeUndefined();
  });

  it('turns a synchronous throw in the handler into a rejection that middleware can observe', async () => {
    const seen: unknown[] = [];
    const observe: Middleware = async (_ctx, next) => {
      try {
        await next();
      } catch (err) {
        seen.push(err);
        throw err;
      }
    };
    const boom = new Error('boom');
    const run = compose([observe], () => {
      throw boom;
    });
    await expect(run(fakeContext())).rejects.toBe(boom);
    expect(seen).toEqual([boom]);
  });

  it('shares ctx.state between middleware and the handler', async () => {
    let seen: unknown;
    const run = compose(
      [
        async (ctx, next) => {
          ctx.state.user = 'ada';
          await next();
        },
      ],
      (ctx) => {
        seen = ctx.state.user;
      },
    );
    await run(fakeContext());
    expect(seen).toBe('ada');
  });

  it('can run the same composed chain for many messages at once', async () => {
    const log: string[] = [];
    const run = compose([tracing(log, 'm')], async (ctx) => {
      await Promise.resolve();
      log.push(ctx.topic);
    });
    await Promise.all([run(fakeContext()), run(fakeContext())]);
    expect(log.filter((entry) => entry === 't')).toHaveLength(2);
  });

  it('does not share the middleware array with the caller', async () => {
    const log: string[] = [];
    const middleware = [tracing(log, 'a')];
    const run = compose(middleware, () => undefined);
    middleware.push(tracing(log, 'added-later'));
    await run(fakeContext());
    expect(log).toEqual(['a:in', 'a:out']);
  });
});
