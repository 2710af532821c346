import { beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../helpers/certs.js';
import { useFixture } from '../helpers/fixture.js';
import type { TestRedis } from '../helpers/redis-server.js';

// A private TLS-only redis-server, with a CA and certificate made by openssl for this test.
describe('Redis over TLS', () => {
  const f = useFixture({ broker: false });
  let server: TestRedis;
  let ca: string;

  beforeAll(async () => {
    const certs = makeCertificates(f.dir);
    ca = certs.ca;
    server = await f.redisServer(certs);
  });

  const connect = (env: Record<string, string>): ReturnType<typeof f.redisManager> => f.redisManager(env, 3000);

  it('connects with a rediss:// host and the CA, and runs commands', async () => {
    const { manager, ready } = await connect({
      REDIS_HOST: `rediss://127.0.0.1:${server.port}`,
      REDIS_TLS_CA: ca,
    });
    expect(ready).toBe(true);
    expect(await manager.client?.ping()).toBe('PONG');
  });

  it('connects with REDIS_TLS=true and a plain host too', async () => {
    const { ready } = await connect({
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(server.port),
      REDIS_TLS: 'true',
      REDIS_TLS_CA: ca,
    });
    expect(ready).toBe(true);
  });

  it('refuses a server its CA does not vouch for: Redis stays down, nothing throws', async () => {
    const { manager, ready } = await connect({ REDIS_HOST: `rediss://127.0.0.1:${server.port}` });
    expect(ready).toBe(false);
    expect(manager.state).toBe('down');
  });
});
