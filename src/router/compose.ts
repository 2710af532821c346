import { ErrorCodes, RouteMQError } from '../errors.js';
import type { Handler, MessageContext, Middleware, RouteInfo } from '../types.js';

const RESOLVED = Promise.resolve();

/** A composed middleware chain plus handler, ready to run one message. */
export type ComposedHandler = (ctx: MessageContext) => Promise<void>;

/**
 * Compose middleware and a handler into one function, in onion order (Hono `src/compose.ts` style): each
 * middleware runs until it awaits `next()`, which runs the rest of the chain and then the handler; code after
 * `await next()` runs on the way out. A middleware that returns without calling `next()` stops the chain (the
 * handler does not run). The handler's return value is ignored. A synchronous throw anywhere becomes a rejection.
 *
 * Compose once per route, at compile time; the returned function is reused for every message.
 *
 * @param middleware - run in array order before the handler. @defaultValue none
 * @throws RouteMQError `RMQ_ERR_NEXT_CALLED_TWICE` (as a rejection of the composed function, and of the second
 *   `next()` call) when one middleware calls `next()` more than once.
 */
export function compose(
  middleware: readonly Middleware[],
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the chain is shared by routes of every param and payload type
  handler: Handler<any, any>,
): ComposedHandler {
  const chain = [...middleware];
  if (chain.length === 0) {
    // No async wrapper: the handler's own promise (or none, for a synchronous handler) is all this costs. Its
    // promise is handed on as it is (its value is never read), not chained to a new one.
    return function runHandler(ctx: MessageContext): Promise<void> {
      try {
        const result: unknown = handler(ctx);
        return result instanceof Promise ? (result as Promise<void>) : RESOLVED;
      } catch (err) {
        return Promise.reject(asError(err));
      }
    };
  }

  return function runChain(ctx: MessageContext): Promise<void> {
    let lastIndex = -1;
    const dispatch = async (index: number): Promise<void> => {
      if (index <= lastIndex) {
        const caller = chain[index - 1];
        const name = caller?.name ? `'${caller.name}'` : `#${index}`;
        // Defensive: a hand-built context (tests, embedding) may lack `route`.
        const route = (ctx.route as RouteInfo | undefined)?.pattern;
        throw new RouteMQError(
          ErrorCodes.NEXT_CALLED_TWICE,
          `next() was called more than once by middleware ${name}${route === undefined ? '' : ` on route '${route}'`}`,
        );
      }
      lastIndex = index;
      const current = chain[index];
      if (current === undefined) {
        await handler(ctx);
        return;
      }
      await current(ctx, () => dispatch(index + 1));
    };
    return dispatch(0);
  };
}

/** A thrown value as an Error: itself, or a `RMQ_ERR_HANDLER_FAILED` naming it. Out of line, off the hot path. */
function asError(err: unknown): Error {
  return err instanceof Error ? err : new RouteMQError(ErrorCodes.HANDLER_FAILED, String(err));
}
