import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/logger.js';
import { RedisManager } from '../../src/redis/redis-manager.js';

/** A plain ioredis client to the real Redis on 127.0.0.1:6379 (`.ci/run` starts it), connected. */
export async function connectRedis(): Promise<Redis> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  return redis;
}

/** Delete every key under a test's prefix. */
export async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** A started RedisManager configured from env (`ENABLE_REDIS=true` added), and whether it became ready in time. */
export async function startRedisManager(
  env: Record<string, string>,
  timeoutMs = 5000,
): Promise<{ manager: RedisManager; ready: boolean }> {
  const config = loadConfig({ env: { ENABLE_REDIS: 'true', ...env }, envFile: false });
  const manager = new RedisManager(config, silentLogger());
  manager.start();
  return { manager, ready: await manager.whenReady(timeoutMs) };
}
