import type { Middleware } from '../../src/index.js';

/**
 * Logs every message with its route, topic and handler time, at debug (`LOG_LEVEL=debug` to see them). Runs around the rest of the chain (onion order),
 * so the time includes later middleware and the handler.
 */
export function timing(): Middleware {
  return async function timingMiddleware(ctx, next) {
    const started = performance.now();
    try {
      await next();
      ctx.log.debug({ ms: +(performance.now() - started).toFixed(2), attempt: ctx.attempt }, 'handled');
    } catch (err) {
      ctx.log.warn({ ms: +(performance.now() - started).toFixed(2), attempt: ctx.attempt, err }, 'failed');
      throw err;
    }
  };
}
