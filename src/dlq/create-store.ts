import { join } from 'node:path';
import type { ResolvedConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { ensureWritableDir } from '../util/state-dir.js';
import { RedisManager } from '../redis/redis-manager.js';
import { sharedRedis } from '../redis/shared-redis.js';
import { RedisStreamStore } from './redis-store.js';
import { SpoolStore } from './spool-store.js';
import type { DeadLetterStore } from './store.js';

/** The spool's directory under the state directory. */
export function spoolDir(config: ResolvedConfig): string {
  return join(config.routemq.stateDir, 'dlq');
}

/**
 * Open the app's dead-letter store: the Redis stream `<ROUTEMQ_REDIS_PREFIX>dlq` when `ENABLE_REDIS`, else the
 * spool file `<ROUTEMQ_STATE_DIR>/dlq/dead-letters.ndjson`.
 *
 * @param options.readOnly - for the CLI beside a running app: no compaction.
 * @throws RouteMQError `RMQ_ERR_STATE_DIR_NOT_WRITABLE` when the spool's directory cannot be written.
 */
export async function createDeadLetterStore(
  config: ResolvedConfig,
  logger: Logger,
  options: { readonly readOnly?: boolean } = {},
): Promise<DeadLetterStore> {
  if (config.redis.enabled) {
    const shared = await sharedRedis();
    const redis = shared ?? new RedisManager(config, logger);
    if (!shared) redis.start();
    const store = new RedisStreamStore({
      redis,
      maxEntries: config.routemq.dlqMaxEntries,
      maxBytes: config.routemq.dlqMaxBytes,
      ownsRedis: !shared,
    });
    await store.open();
    return store;
  }
  const dir = spoolDir(config);
  if (!options.readOnly) ensureWritableDir(dir, 'the dead-letter spool');
  const store = new SpoolStore({
    dir,
    maxEntries: config.routemq.dlqMaxEntries,
    maxBytes: config.routemq.dlqMaxBytes,
    readOnly: options.readOnly ?? false,
  });
  await store.open();
  const size = store.size();
  if (size.entries > 0)
    logger.info({ entries: size.entries, bytes: size.bytes, spool: size.location }, 'dead-letter store opened');
  return store;
}
