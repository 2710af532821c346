import type { RedisManager } from './redis-manager.js';

type Provider = () => Promise<RedisManager | undefined>;

let provider: Provider | undefined;
let shared: Promise<RedisManager | undefined> | undefined;

/**
 * Tell this process where its one Redis client comes from. The runtime calls it at start-up (the main process
 * hands over its {@link RedisManager}; a worker creates one on first use), so middleware such as `rateLimit` can
 * reach Redis without any wiring in the route files.
 */
export function provideSharedRedis(create: Provider): void {
  provider = create;
  shared = undefined;
}

/** This process's Redis client, created on first use; `undefined` when Redis is off or nobody provided one. */
export function sharedRedis(): Promise<RedisManager | undefined> {
  shared ??= provider ? provider().catch(() => undefined) : Promise.resolve(undefined);
  return shared;
}

/** Close the shared client if one was created (a worker's stop). Never rejects. */
export async function stopSharedRedis(): Promise<void> {
  const current = shared;
  provider = undefined;
  shared = undefined;
  await (await current)?.stop();
}
