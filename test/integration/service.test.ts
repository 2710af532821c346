import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRouteMQ, RouteMQService } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { startTestBroker } from '../helpers/broker.js';
import type { TestBroker } from '../helpers/broker.js';
import { testConfig } from '../helpers/app.js';
import { connectClient, publishMany, waitUntil } from '../helpers/mqtt.js';
import { check, readSeen } from '../helpers/seen.js';

const ROUTERS = fileURLToPath(new URL('../fixtures/apps/pools/routers', import.meta.url));

/** The pids of this process's live child processes (from /proc). */
async function childPids(): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('startRouteMQ: the service object', () => {
  let broker: TestBroker;
  let dir: string;
  let publisher: MqttClient | undefined;
  const services: RouteMQService[] = [];

  beforeAll(async () => {
    broker = await startTestBroker();
    dir = mkdtempSync(join(tmpdir(), 'routemq-service-'));
  });
  afterEach(async () => {
    await publisher?.endAsync();
    publisher = undefined;
    await Promise.all(services.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function config(extra: Record<string, string> = {}) {
    const seen = join(dir, `seen-${services.length}-${Date.now()}.tsv`);
    return {
      seen,
      config: testConfig(broker, {
        ROUTEMQ_ROUTERS_DIR: ROUTERS,
        SEEN_FILE: seen,
        HEALTH_HTTP_ENABLED: 'true',
        HEALTH_HTTP_PORT: '0',
        ROUTEMQ_CONTROL_SOCKET: join(dir, `control-${services.length}-${Date.now()}.sock`),
        ...extra,
      }),
    };
  }

  it('runs the pools, health and control socket, handles every message, and stops everything with await using', async () => {
    const { config: cfg, seen } = config();
    const env = { ...process.env, SEEN_FILE: seen };
    let url: string | undefined;
    {
      await using service = await startRouteMQ({ config: cfg, logger: silentLogger(), env });
      expect(service.state).toBe('running');
      url = service.healthUrl;
      expect(url).toBeDefined();
      const ready = await fetch(`${url}/ready`);
      expect(ready.status).toBe(200);
      expect(service.app.workers?.getWorkerCount()).toBe(4); // pa: 3, pb: 1
      publisher = await connectClient(broker.url);
      const ids = Array.from({ length: 40 }, (_, i) => `s${i}`);
      await publishMany(publisher, ids.length, (i) => ({ topic: `pa/${ids[i]}`, payload: '{}' }));
      await waitUntil(() => readSeen(seen).length >= ids.length, 30_000, 'every message handled');
      expect(check(ids, readSeen(seen))).toEqual({ lost: [], duplicated: [], unexpected: [] });
      expect((await childPids()).length).toBe(5); // the broker and 4 workers
    }
    // Leaving the block stopped the service: workers reaped, health server closed.
    expect(await childPids()).toHaveLength(1); // only the test broker
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('refuses a second service on the same control socket before it connects, and leaves the first running', async () => {
    const first = config();
    const env = { ...process.env, SEEN_FILE: first.seen };
    const a = await startRouteMQ({ config: first.config, logger: silentLogger(), env });
    services.push(a);
    const second = testConfig(broker, {
      ROUTEMQ_ROUTERS_DIR: ROUTERS,
      SEEN_FILE: first.seen,
      ROUTEMQ_CONTROL_SOCKET: first.config.routemq.controlSocket ?? '',
      ROUTEMQ_INSTANCE_ID: 'other',
    });
    const b = new RouteMQService({ config: second, logger: silentLogger(), env });
    services.push(b);
    const err = await b.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toContain('control');
    // Refused before connecting: no route file was loaded and no worker forked.
    expect(b.app.table).toBeUndefined();
    expect(b.app.workers).toBeUndefined();
    expect(b.state).toBe('stopped');
    expect(a.status().ready).toBe(true);
  });

  it('memoises stop(): concurrent and repeated calls share one shutdown', async () => {
    const { config: cfg, seen } = config();
    const service = await startRouteMQ({
      config: cfg,
      logger: silentLogger(),
      workers: false,
      env: { ...process.env, SEEN_FILE: seen },
    });
    const first = service.stop();
    expect(service.stop()).toBe(first);
    await first;
    expect(service.state).toBe('stopped');
    expect(service.app.state).toBe('stopped');
    await expect(service.start()).rejects.toMatchObject({ code: 'RMQ_ERR_STOPPED' });
  });
});
