import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../helpers/certs.js';
import { startTestRedis } from '../helpers/redis-server.js';
import type { TestRedis } from '../helpers/redis-server.js';
import { startRedisManager } from '../helpers/redis.js';

// A private TLS-only redis-server, with a CA and certificate made by openssl for this test.
describe('Redis over TLS', () => {
  let dir: string;
  let server: TestRedis;
  let ca: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'routemq-redis-tls-'));
    const certs = makeCertificates(dir);
    ca = certs.ca;
    server = await startTestRedis(certs);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const connect = (env: Record<string, string>): ReturnType<typeof startRedisManager> => startRedisManager(env, 3000);

  it('connects with a rediss:// host and the CA, and runs commands', async () => {
    const { manager, ready } = await connect({
      REDIS_HOST: `rediss://127.0.0.1:${server.port}`,
      REDIS_TLS_CA: ca,
    });
    try {
      expect(ready).toBe(true);
      expect(await manager.client?.ping()).toBe('PONG');
    } finally {
      await manager.stop();
    }
  });

  it('connects with REDIS_TLS=true and a plain host too', async () => {
    const { manager, ready } = await connect({
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(server.port),
      REDIS_TLS: 'true',
      REDIS_TLS_CA: ca,
    });
    expect(ready).toBe(true);
    await manager.stop();
  });

  it('refuses a server its CA does not vouch for: Redis stays down, nothing throws', async () => {
    const { manager, ready } = await connect({ REDIS_HOST: `rediss://127.0.0.1:${server.port}` });
    expect(ready).toBe(false);
    expect(manager.state).toBe('down');
    await manager.stop();
  });
});
